"""Stand-ins for the outside parties the function calls, other than AWS (which moto emulates).

- `anam`: Anam's token API (`POST /v1/auth/session-token`), minting HS256 tokens signed with PyJWT.
- `anam_rules`: the checks Anam makes on a token request's body (pure), used by `anam`.
- `anam_sdk_routes`: what Anam's JS SDK calls after `createClient(sessionToken)`, added to an `anam` stand-in.
- `turnstile`: Cloudflare Turnstile's siteverify.
"""
