"""Does the reconciliation find this deployment's sessions? Lists the last sessions on your own Anam account
whose clientLabel carries a deployment's prefix, read exactly as the pass reads them (docs/contract.md §11),
then searches the newest of them by its whole label, as the pass looks each token up, and says whether the
search brought it back.

    python -m scripts.anam_sessions --prefix <stack name> [--secret-id <secret>] [--last 20]

The key comes from ANAM_API_KEY, or from the deployment's secret (--secret-id, the usual AWS credential
chain). `make sessions PREFIX=<stack name> [SECRET=<secret id>]` runs it. Nothing is written anywhere. It
exits 0 when the search by a whole label works (or there is nothing to search yet), 3 when it does not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from token_vendor.adapters.anam_sessions import AnamSessionList

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_URL = "https://api.anam.ai"

NONE_FOUND = """No session on this Anam account carries a clientLabel of the prefix {prefix!r}.

Until one does, the pass gives no minutes back: a reservation whose token was used waits for its session,
and an unused one waits for the proof that a later session of the deployment was listed. Check:
  - that a visitor has started (and ended) a session with a token minted since the stack had a minutes
    budget and ReconcileSchedule on (tokens minted before carry no such label);
  - the prefix: the stack's name, unless the function sets CLIENT_LABEL_PREFIX;
  - the key: it must be the deployment's own key (the same Anam account that minted the tokens);
  - Anam's search: if sessions you know of carry the label in Anam Lab yet none shows here, Anam's `search`
    does not match part of a label. The pass looks each token up by its whole label, which does not need
    that, but its proof that an unused token was never used comes from this listing: without it, unused
    tokens keep their minutes reserved. Tell the maintainers."""

FOUND_BY_LABEL = """A search by the whole label of the newest brought it back: the pass finds each token's
session by its label."""

NOT_FOUND_BY_LABEL = """A search by the whole label of the newest did NOT bring it back: the pass looks each
token up by its whole label, so it cannot see the sessions of its tokens, and gives back no minute they did
not use. Tell the maintainers: Anam's search does not match a whole client label."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "src"))
    from token_vendor.adapters.anam_sessions import AnamSessionList
    from token_vendor.domain.reconciliation import SessionListFailed, reservation_id_of

    api_key = os.environ.get("ANAM_API_KEY", "").strip() or _key_from_secret(args.secret_id)
    if not api_key:
        print("anam_sessions: set ANAM_API_KEY, or give --secret-id with AWS credentials", file=sys.stderr)
        return 2
    session_list = AnamSessionList(args.base_url.rstrip("/"))
    try:
        sessions = session_list.latest(api_key, args.prefix, time.monotonic() + 60)
    except SessionListFailed as failed:
        print(f"anam_sessions: Anam's session list failed: {failed}", file=sys.stderr)
        return 1
    ours = [session for session in sessions if reservation_id_of(session.label, args.prefix)]
    if not ours:
        print(NONE_FOUND.format(prefix=args.prefix))
        if sessions:
            print(
                f"\n(The search returned {len(sessions)} session(s), none with this deployment's label form.)"
            )
        return 0
    ours.sort(key=lambda session: session.started_at or 0, reverse=True)
    print(f"The last {min(args.last, len(ours))} session(s) of {args.prefix!r} (Anam's newest page):")
    print(f"{'started (UTC)':20} {'ended (UTC)':20} {'minutes':>7}  reservation")
    for session in ours[: args.last]:
        minutes = "running" if session.minutes is None else str(session.minutes)
        reservation = reservation_id_of(session.label, args.prefix)
        print(f"{_when(session.started_at):20} {_when(session.ended_at):20} {minutes:>7}  {reservation}")
    return _search_by_whole_label(session_list, api_key, ours[0].label or "")


def _search_by_whole_label(session_list: AnamSessionList, api_key: str, label: str) -> int:
    """What the pass relies on: a search by a token's whole label returns that token's session."""
    from token_vendor.domain.reconciliation import SessionListFailed

    try:
        returned = session_list.find(api_key, label, time.monotonic() + 60)
    except SessionListFailed as failed:
        print(f"anam_sessions: the search by a whole label failed: {failed}", file=sys.stderr)
        return 1
    print()
    if any(session.label == label for session in returned):
        print(FOUND_BY_LABEL)
        return 0
    print(NOT_FOUND_BY_LABEL)
    return 3


def _key_from_secret(secret_id: str | None) -> str:
    if not secret_id:
        return ""
    import boto3

    from token_vendor.domain.values import parse_credentials

    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return parse_credentials(value).api_key


def _when(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.anam_sessions", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--prefix", default="anam-token-vendor", help="the clientLabel prefix: the stack's name"
    )
    parser.add_argument("--secret-id", help="the deployment's API key secret (when ANAM_API_KEY is not set)")
    parser.add_argument("--base-url", default=os.environ.get("ANAM_API_BASE_URL", DEFAULT_BASE_URL))
    parser.add_argument("--last", type=int, default=20, help="how many to show (default: %(default)s)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
