#
# Settings of the forum mailer: send_notifications.py, fetch_replies.py, manage.py.
# A plain Python module, read once per run.  Secrets do not belong here: put
# MAIL_PSSWD, DB_PSWD and REPLIER_POP_PSSWD in a file named .env beside this
# one (KEY=value lines, chmod 600) or in the environment; the environment
# wins over .env, and both win over this file.
# The secret that signs reply addresses needs nothing from you: manage.py
# init-db keeps a random one in the database, shared by every host
# (manage.py rotate-secret replaces it).  REPLY_TOKEN_SECRET in .env, if
# set, signs instead; REPLY_TOKEN_SECRET_PREVIOUS keeps replies to mail
# signed with an earlier one valid.
# Every OPTS key must be one documented below (an unknown key stops every run
# with exit 78, naming it); keys of the original product's other tools,
# starting with sync_ or ldap_, are accepted and ignored.
# Every setting, its range and default: docs/settings.md.
# Check everything with:  python3 manage.py check
#

# --- Outgoing mail -------------------------------------------------------------
MAIL_FROM  = "Forum <noreply@example.com>" # Name <address> of notifications; the acting user's name replaces the name (required)
MAIL_SMTP  = "localhost"     # SMTP server host (or host:port) that sends notifications (required unless OPTS['smtp_servers'])
MAIL_ADMIN = ""              # address(es) for alerts, refused replies and DEBUG mail; comma-separated (default empty)
MAIL_LOGIN = ""              # SMTP AUTH user name; empty when the server needs no login (default empty)
MAIL_PSSWD = ""              # SMTP AUTH password; required with MAIL_LOGIN (default empty; better: MAIL_PSSWD=... in .env)
MAIL_USE_SSL = False         # implicit TLS from the first byte (port 465); for STARTTLS use OPTS['smtp_tls'] (default False)
DEBUG = False                # every mail goes to MAIL_ADMIN instead, marked with its real recipient (default False)

# --- Database ------------------------------------------------------------------
DB_HOST = ""                 # PostgreSQL host (default empty: the local Unix socket)
DB_PORT = 5432               # PostgreSQL port (1-65535; default 5432)
DB_USER = "sa_sirena"        # PostgreSQL role (default 'sa_sirena')
DB_PSWD = ""                 # its password (default empty; better: DB_PSWD=... in .env)
DB_NAME = "memoria"          # the database (default 'memoria')
DB_SCHEMA = "memoria"        # the schema inside DB_NAME with the forum's and our tables; lower case, as PostgreSQL names it (Memoria is refused: write memoria) (default 'memoria')

EXTERNAL_DB_ADDR = "db.example.com:45432" # public address of this installation, kept for links (default none: not read by forummail)

CARGADOR_HOST = "127.0.0.1"  # the file storage service, kept for download links (default none: not read by forummail)
CARGADOR_RPC_PORT = 4040     # its RPC port (default none: not read by forummail)
CARGADOR_HTPP_PORT = 4080    # its HTTP port (the manual's spelling; CARGADOR_HTTP_PORT works too) (default none: not read by forummail)

OPTS = {
	'db_connection_addr' : EXTERNAL_DB_ADDR # address given in invitations (default empty; the shipped file sets EXTERNAL_DB_ADDR)

	# SMTP details
	, 'smtp_port' : None               # SMTP port of MAIL_SMTP (587 is usual with smtp_tls) (1-65535; default 25, or 465 with MAIL_USE_SSL)
	, 'smtp_tls' : False               # STARTTLS after connecting (Gmail, Exchange/Office 365 on port 587) (default False)
	, 'smtp_timeout' : 30              # how long to wait for any SMTP answer (1-600 seconds; default 30)
	, 'smtp_verify_tls' : True         # verify TLS certificates; False only for a self-signed test server (warns) (default True)
	, 'smtp_max_connections' : 0       # SMTP connections used at once, each reused for many mails (0-64; default 0: the preset's, else 1)
	, 'smtp_preset' : ''               # a provider's sending limits (one of 'office365', 'google-workspace', 'gmail', 'amazon-ses-sandbox'; default empty: none)
	, 'smtp_per_minute' : 0            # at most this many messages a minute through MAIL_SMTP (wins over the preset) (0-10,000,000; default 0: no limit)
	, 'smtp_per_day' : 0               # at most this many messages in any 24 hours (0-10,000,000; default 0: no limit)
	, 'smtp_recipients_per_minute' : 0 # at most this many recipients a minute (0-10,000,000; default 0: no limit)
	, 'smtp_recipients_per_day' : 0    # at most this many recipients in any 24 hours (0-10,000,000; default 0: no limit)
	, 'smtp_aside_seconds' : 300       # a server that failed is left aside this long, by every run (1-86400 seconds; default 300)
	, 'smtp_servers' : None            # several servers instead of MAIL_SMTP, mail spread over the enabled ones: a list of dicts, see docs/guide.md, Delivery at scale (default None: MAIL_SMTP)
	, 'smtp_oauth2' : None             # sign in to MAIL_SMTP with OAuth2 instead of MAIL_PSSWD (MAIL_LOGIN names the mailbox): a dict with 'provider' ('microsoft', 'google', 'generic', 'command'), see docs/guide.md, OAuth2 sign-in (default None: password sign-in)
#	, 'smtp_oauth2' : {'provider': 'microsoft', 'tenant': 'contoso.onmicrosoft.com', 'client_id': '...'}  # client secret: SMTP_OAUTH2_CLIENT_SECRET=... in .env
	# e.g. [{'description': 'o365', 'host': 'smtp.office365.com', 'port': 587, 'tls': True, 'login': 'x@example.com',
	#        'password': '', 'preset': 'office365', 'max_connections': 3, 'enabled': True},
	#       {'description': 'relay', 'host': 'relay.example.com', 'per_minute': 600, 'max_connections': 4}]
	, 'mail_log' : ''                  # log file, one greppable line per event (a relative path is beside this file); its folder must exist and be writable (default empty: no log file)
	, 'mail_disable' : False           # True: send_notifications.py does nothing and exits 0 (default False)

	# Sending queue
	, 'send_lease_seconds' : 300       # how long a claimed notification stays reserved for the run that claimed it (30-86400 seconds; default 300)
	, 'send_batch_size' : 200          # notifications claimed per database round trip (1-10000; default 200)
	, 'send_processes' : 0             # processes sending at once with much to send, one server and several connections (each process takes its share of them); 1: always one process (0-64; default 0: one per connection, up to one per core)
	, 'send_max_attempts' : 10         # tries before a temporarily failing notification is marked failed (1-100; default 10)
	, 'send_retry_seconds' : 60        # wait after the first temporary failure; doubles each time (1-86400 seconds; default 60)
	, 'send_retry_max_seconds' : 21600 # longest wait between two tries (1-604800 seconds; default 21600)
	, 'templates_dir' : ''             # folder with your own templates (relative: beside this file); its files win over templates/ (default empty: none)
	, 'metrics_dir' : ''               # folder for a Prometheus textfile per run, for node_exporter (relative: beside this file) (default empty: none)

	# Replies by email ("Allow to respond from E-mail" must be on in the universe)
	, 'replier_from_addr' : ''         # reply mailbox, e.g. 'Forum reply <reply@example.com>'; a signed reply token is added as +TOKEN (default empty: replies by email off)
	, 'replier_pop_addr' : ''          # POP3 server of that mailbox, host or host:port (995 with SSL, else 110) (default empty)
	, 'replier_pop_ssl' : True         # POP3 over TLS (995); False: plain POP3 with STLS when offered (default True)
	, 'replier_pop_login' : ''         # POP3 user name (default empty)
	, 'replier_pop_psswd' : ''         # POP3 password (default empty; better: REPLIER_POP_PSSWD=... in .env)
	, 'replier_pop_oauth2' : None      # sign in to the POP3 mailbox with OAuth2 instead of the password (replier_pop_login names the mailbox): a dict as smtp_oauth2 (default None: password sign-in)
#	, 'replier_pop_oauth2' : {'provider': 'google', 'client_id': '...'}  # REPLIER_POP_OAUTH2_CLIENT_SECRET=... and REPLIER_POP_OAUTH2_REFRESH_TOKEN=... in .env
	, 'replier_downloader_url' : ''    # base URL of attachment download links; hash= and name= are appended (default empty)
	, 'replier_separator' : ''         # line put at the top of notifications; replies are cut there (default empty: '-- Write your reply above this line --')
	, 'reply_token_days' : 180         # how long a reply address stays valid (1-3650 days; default 180)
	, 'replier_pop_timeout' : 60       # how long to wait for any POP3 answer (1-600 seconds; default 60)
	, 'replier_max_age_days' : 7       # older mail in the mailbox is recorded and left alone (first run on an old mailbox) (1-3650 days; default 7)
	, 'replier_max_message_bytes' : 26214400 # larger replies are refused (1 KB to 1 GB; default 25 MB)
	, 'replier_max_attachment_bytes' : 10485760 # larger attachments are dropped, with a note in the post (0 bytes to 1 GB; default 10 MB)
	, 'replier_max_attachments' : 10   # attachments kept per reply; the rest dropped with a note (0-1000; default 10)
	, 'replier_keep_raw_bytes' : 1048576 # bytes of a refused email kept in inbound_emails for the administrator (0 bytes to 1 GB; default 1 MB)
	, 'replier_authserv_id' : ''       # authserv-id of your own receiving mail server (e.g. 'mx.example.com'); its DMARC pass lets a reply without token post (default empty: tokens only)
	, 'replier_max_mime_depth' : 20    # replies with MIME parts nested deeper than this many levels are refused (3-50; default 20)
	, 'replier_max_mime_parts' : 200   # replies with more MIME parts than this are refused (10-10000; default 200)
	, 'replier_max_header_bytes' : 102400 # emails whose header block is larger are refused before it is parsed (16 KB to 4 MB; default 100 KB)
	, 'replier_max_header_field_bytes' : 16384 # emails with one header field larger are refused before it is parsed (2 KB to 1 MB; default 16 KB)
	, 'bounce_addr' : ''               # envelope sender (Return-Path) of notifications: delivery reports come back to it (default empty: the reply mailbox's +bounces address (tagged per notification), else MAIL_FROM)
	, 'unsubscribe_url' : ''           # the forum's HTTPS endpoint for one-click unsubscribe (RFC 8058); token= is appended (default empty: List-Unsubscribe carries only the mailto: address)
}
