"""Pro Santé Connect and FranceConnect through allauth's OpenID Connect provider, with the checks
the portal needs on top of it: a nonce bound to the login (allauth sends none), the ID token's
signature verified even when it came from the token endpoint (allauth trusts TLS there), and the
required ``acr`` always asked. Matching accounts and refusing logins is ``records.sso``'s."""
