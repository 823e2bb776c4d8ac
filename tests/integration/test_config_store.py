"""The configuration store as the init prefetch and a request use it together: one fetch per value, however
many ask for it at once (docs/contract.md §6)."""

import os
import threading
from collections.abc import Callable

import pytest

from local.fault_proxy import FaultProxy
from token_vendor.adapters.config_store import ConfigStore
from token_vendor.settings import Settings

pytestmark = pytest.mark.usefixtures("function_env")


def test_concurrent_first_loads_share_one_fetch_of_each_value(aws: FaultProxy, monkeypatch):
    monkeypatch.setenv("PERSONAS_PARAMETER_PATH", "/anam/personas/")
    store = ConfigStore(Settings.from_environ(os.environ))
    aws.delay_seconds = 0.3
    # Two requests' loads and the init prefetch's, released at the same moment.
    callers = [store.load, store.load_all, store.load]
    start = threading.Barrier(len(callers))

    def call(load: Callable[[], object]) -> None:
        start.wait()
        load()

    threads = [threading.Thread(target=call, args=(load,)) for load in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(target.split(".")[-1] for target in aws.targets_seen) == [
        "GetParameter",
        "GetParametersByPath",
        "GetSecretValue",
    ]
