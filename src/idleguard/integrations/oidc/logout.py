"""The identity provider's end-session URL (RP-Initiated Logout 1.0), and the state it carries.

The state is the end reason and, when there is one, the page to come back to
(base64url), so that the IdP's fixed, registered `post_logout_redirect_uri`
can still lead to `login_url?reason=...&next=...`. It is read back strictly:
an unknown reason gives nothing, a page that is not a plain local path is
dropped. Nothing here is secret, and nothing read back is trusted further.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from ...core import EndReason
from ...replies import safe_next

__all__ = ["decode_state", "encode_state", "end_session_url"]

_REASONS = frozenset(reason.value for reason in EndReason)
#: A state longer than this is not one idleguard wrote.
MAX_STATE = 4096


def end_session_url(
    endpoint: str,
    *,
    id_token_hint: str,
    post_logout_redirect_uri: str,
    client_id: str,
    state: str,
) -> str:
    """`endpoint` with the logout request's parameters in its query."""
    query = urlencode(
        {
            "id_token_hint": id_token_hint,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": client_id,
            "state": state,
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def encode_state(reason: str, target: str | None) -> str:
    """`reason`, and `target` (a local path) after a dot, base64url without padding."""
    if target is None:
        return reason
    return reason + "." + base64.urlsafe_b64encode(target.encode()).decode().rstrip("=")


def decode_state(state: str) -> tuple[str, str | None] | None:
    """`(reason, target)` from a state `encode_state` wrote; `None` for anything else."""
    if len(state) > MAX_STATE:
        return None
    reason, _, encoded = state.partition(".")
    if reason not in _REASONS:
        return None
    if not encoded:
        return reason, None
    try:
        target = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return reason, None
    return reason, target if safe_next(target) else None
