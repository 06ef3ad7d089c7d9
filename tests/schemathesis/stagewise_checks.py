"""A schemathesis check for Stagewise's GraphQL API, loaded by the e2e test
`schemathesis` through SCHEMATHESIS_HOOKS.

schemathesis's own `not_a_server_error` also counts every resolver error as a server
failure (ST113). Stagewise answers refusals on purpose as coded errors (FORBIDDEN,
NOT_FOUND, CONFLICT, BAD_USER_INPUT, ...), so this check fails only on what is a server
fault: an HTTP 5xx, a body that is not JSON, an error without `extensions.code`, or
`INTERNAL_SERVER_ERROR`.
"""

import schemathesis


@schemathesis.check
def stagewise_no_server_fault(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except Exception as error:  # noqa: BLE001 - any parse failure is a fault
        raise AssertionError(f"the body is not JSON: {error}") from error
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        extensions = (error or {}).get("extensions") or {}
        code = extensions.get("code")
        if not code:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"an internal error: {error}")
    return None
