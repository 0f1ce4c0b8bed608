"""The store: all SQL of the package, one module per reader's job.

* :mod:`.outgoing`: the notification queue: claims, leases, outcomes, budgets,
  servers set aside, system mail queued by us;
* :mod:`.inbound`: the log of fetched emails and what posting a reply touches;
* :mod:`.admin`: what ``manage.py`` shows and changes;
* :mod:`.keys`: the reply-signing secrets;
* :mod:`.suppressions`: what delivery reports, complaints and unsubscribes change;
* :mod:`.tokens`: the OAuth2 access tokens shared by every run.

Connections come from :mod:`forummail.db`, whose ``search_path`` names
``DB_SCHEMA``, so the SQL here names tables without a schema.
"""

from . import admin, inbound, keys, outgoing, suppressions, tokens

__all__ = ["admin", "inbound", "keys", "outgoing", "suppressions", "tokens"]
