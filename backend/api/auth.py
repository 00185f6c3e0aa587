"""Bearer-token check shared by every route except health."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)

ANONYMOUS_OWNER = "anonymous"
SERVER_OWNER = "server"


def require_owner(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Check the bearer token and return the owner id that jobs are filed under.

    The owner id is a hash of the token, so the token itself is never stored,
    and a job is visible only to requests with the token that created it.
    """
    settings = request.app.state.settings
    accepted = settings.accepted_tokens()
    if not accepted:
        return ANONYMOUS_OWNER
    supplied = (credentials.credentials if credentials is not None else "").encode()
    # Compare with every token, so the time taken does not reveal which matched.
    matches = [secrets.compare_digest(supplied, token.encode()) for token in accepted]
    if not any(matches):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="A valid bearer token is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if settings.owner_scope == "server":
        return SERVER_OWNER
    return hashlib.sha256(supplied).hexdigest()[:32]


Owner = Annotated[str, Depends(require_owner)]
