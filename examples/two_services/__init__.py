"""Two services, one session: a FastAPI API and a Flask web UI over one Redis and one policy.

Both services sign people in with the same accounts, keep their sessions in the same Redis
and read the tenant's policy from the same place (a key in that Redis), so a session
begun on one is the same session on the other, a sign-out on either ends it on both, and a
change to the tenant's policy reaches both (the service that made it at once, the other once
its cached answer is ``POLICY_CACHE_TTL`` seconds old). Run both, with one secret between
them, in a virtual environment with the ``examples`` and ``redis`` extras::

    export IDLEGUARD_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export IDLEGUARD_STORE=redis://127.0.0.1:6379/0 IDLEGUARD_DEV=1
    uvicorn --factory examples.two_services.api:create_app --port 8010 &
    flask --app 'examples.two_services.web:create_app()' run --port 8011

Then ``idleguard verify`` checks that they are in step (docs/verify.md)::

    IDLEGUARD_VERIFY_USER=ada@acme.test IDLEGUARD_VERIFY_PASSWORD=ada-demo-password \\
      idleguard verify http://127.0.0.1:8010 http://127.0.0.1:8011 --preset 30m \\
      --login-url /login --user-field email --check-path /api/me --logout-url /logout
"""
