"""Fixtures for the real-SSH test fleet (tests/fleet.py).

`fleet` starts ten sshd hosts once per session (per xdist worker: each worker gets its
own addresses); `hosts` hands the same fleet to a test after resetting it, so every test
starts from empty deploy directories, no fault injected and zeroed connection counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fleet import Fleet, FleetUnavailable

FLEET_SIZE = 10


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Ten real hosts for the whole session; stopped at the end, even on Ctrl-C or a
    failure (Fleet.start also registers an atexit stop, and sshd dies with pytest)."""
    try:
        started = Fleet.start(FLEET_SIZE)
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def hosts(fleet: Fleet) -> Iterator[Fleet]:
    """The session's fleet, reset: every host up, thawed, with an empty /srv/app."""
    fleet.reset()
    yield fleet


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the fleet, so `-m "not fleet"` runs the rest without root."""
    for item in items:
        if {"fleet", "hosts"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fleet)
