"""API Gateway glue: the HTTP API's routes, what every answer shares, CORS, and the caller as API Gateway
describes it. The order of checks of a mint is not here but in `minting.py`."""
