"""A real OpenID Connect provider for the login tests: a small Django site with
django-oauth-toolkit, run in a subprocess on loopback (``tests/sso/conftest.py``). It issues
RS256-signed ID tokens with Pro Santé Connect's and FranceConnect's claims, and misbehaves on
request (bad signature, wrong audience, expired token, another login's nonce) to show that the
portal refuses what a compromised or mistaken provider would send."""
