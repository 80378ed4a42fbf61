"""Which host a CX call goes to: the regional API endpoint for a location, or the emulator.

Dialogflow CX agents live in one location and are only served by that location's endpoint:
``global`` -> ``dialogflow.googleapis.com``, anything else -> ``{location}-dialogflow.googleapis.com``.
A request to the wrong region fails with a confusing NOT_FOUND, so the location is taken from the
resource name whenever one is given and a conflicting explicit location is refused up front.
"""

from __future__ import annotations

from airflow_provider_cx.hooks.errors import CXEndpointError
from airflow_provider_cx.resource_names import (
    InvalidResourceNameError,
    parse_resource_name,
    validate_location,
)

GLOBAL_LOCATION = "global"
API_HOST = "dialogflow.googleapis.com"
API_PORT = 443


def api_endpoint(location: str) -> str:
    """``host:port`` of the CX API serving ``location``."""
    location = check_location(location)
    host = API_HOST if location == GLOBAL_LOCATION else f"{location}-{API_HOST}"
    return f"{host}:{API_PORT}"


def resolve_location(
    resource_name: str | None = None,
    location: str | None = None,
    default: str | None = None,
) -> str:
    """The location a call must go to.

    ``resource_name``'s location wins; ``location`` (explicit: given to the hook or the call) must
    agree with it; ``default`` (the connection's ``location`` extra) fills in when neither says;
    otherwise ``global``.
    """
    from_name = None
    if resource_name:
        try:
            from_name = parse_resource_name(resource_name).location
        except InvalidResourceNameError as error:
            raise CXEndpointError(str(error)) from None
    if location:
        check_location(location)
        if from_name and from_name != location:
            raise CXEndpointError(
                f"location {location!r} does not match {resource_name!r} (location {from_name!r}); "
                "drop the location argument or use a resource name from that location"
            )
    return check_location(from_name or location or default or GLOBAL_LOCATION)


def parse_emulator_host(value: str) -> str:
    """Validate ``host:port`` (as the other Google emulators take it) and return it unchanged."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in value:
        raise CXEndpointError(f"emulator host {value!r} is not host:port (e.g. localhost:8086)")
    return value


def check_location(location: str) -> str:
    """``location`` if it is a valid CX location id, else :class:`CXEndpointError`."""
    try:
        return validate_location(location)
    except InvalidResourceNameError as error:
        raise CXEndpointError(str(error)) from None
