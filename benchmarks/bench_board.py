"""How long the broadcast board takes to absorb a burst of 10,000 messages.

One client of a three-client memory room sends 10,000 lines.  Timed in the
same run: the room alone, and the room with a `spreadlab.Board` watching it,
up to the moment the board has drawn the burst's last line (its redraw runs
on an asyncio loop, as in a kernel).  Prints a table; the ratio is what the
board costs.  Not a test: numbers depend on the machine.

    .venv/bin/python benchmarks/bench_board.py [messages] [repeats]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from spreadlab import Board, MemoryRoom, SpreadFactory


def burst(room: MemoryRoom, messages: int) -> None:
    sender = room.clients[0]
    for i in range(messages):
        sender.send(f"message {i}\n")


def without_board(messages: int) -> float:
    room = MemoryRoom(SpreadFactory())
    for _ in range(3):
        room.connect()
    started = time.perf_counter()
    burst(room, messages)
    return time.perf_counter() - started


def with_board(messages: int) -> tuple[float, int, int]:
    """Seconds until the board shows the last line; its redraws; the size of
    the HTML it last sent to the page."""
    loop = asyncio.new_event_loop()

    async def run():
        room = MemoryRoom(SpreadFactory())
        for _ in range(3):
            room.connect()
        board = Board(room)
        last = f"client 1: message {messages - 1}"
        started = time.perf_counter()
        burst(room, messages)
        while not (board.scene.cards["client 2"].lines and board.transcript("client 2")[-1] == last):
            await asyncio.sleep(0)  # the kernel is idle again: let the loop draw
        return time.perf_counter() - started, board.redraws, len(board.picture.value)

    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


def main(messages: int = 10_000, repeats: int = 9) -> None:
    """Runs the two back to back, in alternating order, and reports the ratio
    of each pair: a busy machine slows both halves of a pair alike."""
    plain, boarded, ratios, redraws, sizes = [], [], [], [], []
    for i in range(repeats):
        if i % 2:
            seconds, count, size = with_board(messages)
            alone = without_board(messages)
        else:
            alone = without_board(messages)
            seconds, count, size = with_board(messages)
        plain.append(alone)
        boarded.append(seconds)
        ratios.append(seconds / alone)
        redraws.append(count)
        sizes.append(size)
    print(f"burst of {messages:,} messages, 3 clients, {repeats} pairs of runs")
    print(f"{'':<22}{'best s':>9}{'median s':>10}")
    for name, times in (("room alone", plain), ("room with a board", boarded)):
        print(f"{name:<22}{min(times):>9.3f}{statistics.median(times):>10.3f}")
    print(f"ratio, board / alone: median {statistics.median(ratios):.2f} "
          f"(pairs from {min(ratios):.2f} to {max(ratios):.2f})")
    print(f"board redraws: {max(redraws)} at most; HTML sent per redraw: {max(sizes):,} bytes at most")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
