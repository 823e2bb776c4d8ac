"""Pure rules and the ports: what the contract says, with no I/O and no boto3, requests or Powertools.

import-linter keeps it so (pyproject.toml, `make lint`): a rule here takes data and returns data, so that its
tests need no emulation.
"""
