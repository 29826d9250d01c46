"""Push subscriptions in SQLite and PostgreSQL: one row per endpoint, removal by its own user,
per household."""

from __future__ import annotations

from hearthcam.store.db import Store
from hearthcam.store.push import PushStore, PushSubscription


def sub(user: int, household: int, endpoint: str) -> PushSubscription:
    return PushSubscription(user, household, endpoint, "p" * 87, "a" * 22)


def test_subscriptions_by_household_replaced_by_endpoint_removed_by_their_user(
    database_url: str,
) -> None:
    store = Store.open(database_url)
    push = PushStore(store)
    push.add(sub(1, 10, "https://push.example/a"), 0.0)
    push.add(sub(2, 10, "https://push.example/b"), 0.0)
    push.add(sub(3, 20, "https://push.example/c"), 0.0)
    assert {s.endpoint for s in push.of_household(10)} == {
        "https://push.example/a",
        "https://push.example/b",
    }
    push.add(sub(3, 20, "https://push.example/a"), 1.0)  # another user on that browser now
    assert {s.endpoint for s in push.of_household(10)} == {"https://push.example/b"}
    assert [s.user_id for s in push.of_user(3)] == [3, 3]
    assert not push.remove("https://push.example/b", user_id=1)  # not theirs
    assert push.remove("https://push.example/b", user_id=2)
    assert not push.remove("https://push.example/b")
    assert push.remove("https://push.example/c")  # the push service said gone: anyone's
    assert push.of_household(10) == []
    assert PushStore(store).of_user(3)[0].info() == {
        "endpoint": "https://push.example/a",
        "keys": {"p256dh": "p" * 87, "auth": "a" * 22},
    }
    assert PushStore(store).remove_user(3) == 1
    assert PushStore(store).of_user(3) == []
    store.close()
