"""The JWKS key set: fetched once, re-fetched for an unknown `kid` at most every JWKS_REFETCH_SECONDS, so a flood of
tokens with forged kids cannot make the server hammer the issuer, while a real key rotation is picked up."""

from __future__ import annotations

import asyncio

import pytest

from persistream.errors import Unauthenticated
from persistream.web.auth.jwt import JWKS_REFETCH_SECONDS, JwksKeys
from tests.support.identities import JwksServer, RsaKeys


async def test_unknown_kids_refetch_at_most_once_per_period_and_a_rotated_key_is_found() -> None:
    old, new = RsaKeys("old-key"), RsaKeys("new-key")
    with JwksServer(old.jwks()) as served:
        keys = JwksKeys(served.url)
        assert (await keys.key_for("old-key")).key_id == "old-key"
        assert served.fetches == 1
        await keys.key_for("old-key")
        assert served.fetches == 1, "a known kid never fetches"

        # A flood of forged kids, some at the same instant: refused, and no fetch within the period.
        forged = [f"forged-{n}" for n in range(50)]
        results = await asyncio.gather(*(keys.key_for(kid) for kid in forged), return_exceptions=True)
        assert all(isinstance(r, Unauthenticated) for r in results), results
        assert served.fetches == 1

        # The issuer rotates: the new key is published, but only a period after the last fetch is it fetched.
        served.document = {"keys": old.jwks()["keys"] + new.jwks()["keys"]}
        with pytest.raises(Unauthenticated):
            await keys.key_for("new-key")
        assert served.fetches == 1
        keys.fetched_at -= JWKS_REFETCH_SECONDS  # the period has passed
        found = await asyncio.gather(*(keys.key_for("new-key") for _ in range(10)))
        assert {key.key_id for key in found} == {"new-key"}
        assert served.fetches == 2, "ten lookups at once after the period make one fetch"
        assert (await keys.key_for("old-key")).key_id == "old-key"
        assert served.fetches == 2
