"""Snowflake ids: unique and ordered across threads and processes; timestamps read back."""

import multiprocessing
import threading
from datetime import datetime, timedelta, timezone

from daira.lib import ids


def _make_ids(count: int, queue) -> None:
    import django

    django.setup()
    from daira.lib import ids as worker_ids

    queue.put([worker_ids.next_id() for _ in range(count)])


def test_ids_are_unique_and_increasing_across_processes(settings):
    # given: four separate processes (spawned, so each leases its own worker id)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_make_ids, args=(5_000, queue)) for _ in range(4)]

    # when
    for process in processes:
        process.start()
    batches = [queue.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)

    # then
    all_ids = [value for batch in batches for value in batch]
    assert len(set(all_ids)) == 20_000
    assert all(batch == sorted(batch) and len(set(batch)) == len(batch) for batch in batches)
    assert len({ids.id_worker(batch[0]) for batch in batches}) == 4
    assert all(0 < value < 1 << 63 for value in all_ids)


def test_ids_are_unique_across_threads():
    seen: list[list[int]] = []

    def work():
        seen.append([ids.next_id() for _ in range(3_000)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    flat = [value for batch in seen for value in batch]
    assert len(set(flat)) == 12_000
    assert all(batch == sorted(batch) for batch in seen)


def test_id_timestamp_reads_back_creation_time():
    before = datetime.now(timezone.utc) - timedelta(milliseconds=2)

    value = ids.next_id()

    after = datetime.now(timezone.utc) + timedelta(milliseconds=2)
    assert before <= ids.id_timestamp(value) <= after
    assert ids.min_id_at(ids.id_timestamp(value)) <= value


def test_generator_survives_a_backwards_clock(monkeypatch):
    generator = ids.SnowflakeGenerator(worker_id=7)
    first = generator.next_id()
    monkeypatch.setattr(ids, "_now_ms", lambda: ids.DAIRA_EPOCH_MS + 1_000)  # far in the past

    second = generator.next_id()

    assert second > first
    assert ids.id_worker(second) == 7


def test_worker_leases_are_exclusive_even_after_the_counter_resets(monkeypatch):
    from daira.lib.redis import get_redis

    # given: one process holds a lease, then the starting counter is reset (e.g. FLUSH of
    # the counter only, or wrap-around) so the next process starts at the same candidate
    monkeypatch.delenv("DAIRA_WORKER_ID", raising=False)
    first = ids._lease_worker_id()
    get_redis().delete(ids.WORKER_LEASE_KEY)
    get_redis().set(ids.WORKER_LEASE_KEY, first - 1)

    # when
    second = ids._lease_worker_id()

    # then
    assert second != first
    assert get_redis().ttl(f"snowflake:worker:{second}") > 0
