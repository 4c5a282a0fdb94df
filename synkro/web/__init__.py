"""The portal: tenant users sign in, set Synkro up, force reports and read them.

Server-rendered pages (FastAPI + Jinja2), live parts over server-sent events with a few lines of
our own JavaScript, no CDN. Reads and writes go through the control plane repositories, so
validation, audit and optimistic locking are the CLI's. Layout:

- `app.py`: `create_app()`, the middleware stack (sessions, CSRF) and error pages;
- `config.py`: `WebConfig` (public URL, cookie security, signing keys);
- `access.py`: who is signed in and what they may do in a tenant (404 / 403 rules);
- `i18n.py` + `messages/`: Russian by default, English with `?lang=en` or the user's setting;
- `templating.py`: `render()`, the one way pages are produced;
- `routes/`: one module per area.

It imports the core (`synkro.*`), never `synkro_dagster`.
"""
