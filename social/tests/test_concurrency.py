"""Counts stay exact when 50 threads follow and unfollow at once (issue 4, Scale)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import Profile
from accounts.tests.factories import UserFactory
from social import services
from social.models import Follow

THREADS = 50
ROUNDS = 3


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_under_50_concurrent_threads():
    # given: one popular account and 25 fans; every fan is driven by TWO threads at once,
    # so the same pair also races with itself (double taps, follow vs unfollow).
    star = UserFactory()
    fans = [UserFactory() for _ in range(THREADS // 2)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        fan = fans[index % len(fans)]
        try:
            barrier.wait()
            for round_ in range(ROUNDS):
                services.follow_create(actor=fan, target=star)
                if (index + round_) % 3:
                    services.follow_delete(actor=fan, target=star)
                services.follow_create(actor=star, target=fan)
                services.follower_remove(actor=fan, follower=star)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection; do not leak it

    # when
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: every stored count equals the rows that exist
    assert errors == []
    star_profile = Profile.objects.get(user=star)
    assert star_profile.followers_count == Follow.objects.filter(followee=star).count()
    assert star_profile.following_count == Follow.objects.filter(follower=star).count()
    for fan in fans:
        profile = Profile.objects.get(user=fan)
        assert profile.following_count == Follow.objects.filter(follower=fan).count()
        assert profile.followers_count == Follow.objects.filter(followee=fan).count()
