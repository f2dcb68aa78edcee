"""The request kit every domain's ``api.py`` uses: bodies and their bounds, query and path
parameters, OpenAPI helpers, security headers, and the request's database session.

It sits just above the kernel, below every domain, so a domain's routes import it from
below (ADR 0023). The principal, session and refusal helpers, which need ``auth``, are in
``riskops.auth.http`` and ``riskops.auth.refusals``; the app that composes it all is
``riskops.web``.
"""
