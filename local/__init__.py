"""The function's world on a laptop, for `make dev`, `make invoke` and the tests.

- `dev_server` (`make dev`) and `invoke` (`make invoke`): the two ways to run the real handler here;
  `world` sets up what both need (AWS emulated or real, Anam's stand-in or the real Anam).
- `moto_server`: AWS (Secrets Manager, SSM, DynamoDB) emulated by moto's server, and seeding it.
- `standins/`: the outside parties that are not AWS: Anam (its token API, its rules, its SDK's routes) and
  Cloudflare Turnstile.
- `http_api_event`, `lambda_context`: what API Gateway and Lambda hand the handler.
- `fault_proxy`: a proxy in front of any of these that injects faults and counts requests.
- `http_plumbing`: the HTTP server the stand-ins, the fault proxy and the dev server share.
- `log_format`, `web_page`: the dev server's human log lines and the example page it serves.
Operator tools (pausing minting) live in scripts/.
"""
