"""The pieces of ``demo.py``: a whole mailer run on one machine, nothing to install.

``venv`` and ``common`` use only the standard library: they run on the
system's Python, before the virtual environment exists.  The other modules
are imported once ``demo.py`` runs inside ``.venv``.
"""
