#!/usr/bin/env python3
"""One alpaca-py client of `tickwire proxy`, driven by the Rust test
cli/tests/proxy_alpaca_py.rs through stdin and stdout.

    client.py setup                                   create the virtualenv, install alpaca-py 0.44, exit
    client.py data URL KEY SECRET SYMBOL[,SYMBOL...]  StockDataStream on quotes of the symbols
    client.py trading URL KEY SECRET                  TradingStream on trade_updates

A client prints one JSON object per line on stdout: a `report` every 200 ms
(data messages per symbol as they came off the socket, before alpaca-py
passes over those it has no handler for; trade updates; connections opened, errors logged), `unsubscribed`
after an `unsubscribe SYMBOL` line on stdin, and a last `report` after a
`stop` line. Environment: ALPACA_PY_VENV (the virtualenv directory).
Failures go to stderr with a non-zero exit, naming what to install when
Python's venv, pip or alpaca-py is missing.
"""

import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "python"))
from script_support import collect_alpaca_errors, ensure_venv, failer  # noqa: E402

VENV = os.environ.get("ALPACA_PY_VENV") or sys.exit("ALPACA_PY_VENV is not set")
DATA_TYPES = {"t", "q", "b", "d", "u", "c", "x", "s", "l", "i", "o", "n"}
fail = failer("proxy alpaca-py client")


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def run(role, url, key, secret, symbols):
    import asyncio

    import msgpack
    from alpaca.data.live import StockDataStream
    from alpaca.trading.stream import TradingStream

    loop = asyncio.get_running_loop()
    quotes, updates, errors = {}, [0], collect_alpaca_errors()
    connects = [0]

    if role == "data":
        stream = StockDataStream(key, secret, url_override=url)

        async def on_quote(_quote):
            pass

        stream.subscribe_quotes(on_quote, *symbols)
    else:
        stream = TradingStream(key, secret, paper=True, url_override=url)

        async def on_update(_update):
            updates[0] += 1

        stream.subscribe_trade_updates(on_update)

    connect = stream._connect

    async def counting_connect():
        connects[0] += 1
        await connect()
        if role != "data":
            return
        # Count data as it comes off the socket: alpaca-py itself passes
        # over messages of symbols it has no handler for.
        ws = stream._ws
        recv = ws.recv

        async def counting_recv():
            frame = await recv()
            for msg in msgpack.unpackb(frame):
                if isinstance(msg, dict) and msg.get("T") in DATA_TYPES:
                    symbol = str(msg.get("S"))
                    quotes[symbol] = quotes.get(symbol, 0) + 1
            return frame

        ws.recv = counting_recv

    stream._connect = counting_connect

    def report():
        emit({"event": "report", "quotes": quotes, "updates": updates[0],
              "connects": connects[0], "errors": errors[:5]})

    stopped = asyncio.Event()

    def read_commands():
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["unsubscribe"] and role == "data":
                stream.unsubscribe_quotes(*words[1:])
                emit({"event": "unsubscribed", "symbols": words[1:]})
            elif words[:1] == ["stop"]:
                break
        loop.call_soon_threadsafe(stopped.set)

    threading.Thread(target=read_commands, daemon=True).start()
    task = asyncio.create_task(stream._run_forever())
    while not stopped.is_set():
        report()
        try:
            await asyncio.wait_for(stopped.wait(), 0.2)
        except asyncio.TimeoutError:
            pass
    await stream.stop_ws()
    try:
        await asyncio.wait_for(task, 5)
    except (asyncio.TimeoutError, Exception):
        task.cancel()
    report()


def main():
    ensure_venv(VENV, "alpaca-py", "0.44.", fail)
    import asyncio

    args = sys.argv[1:]
    if args == ["setup"]:
        import alpaca  # noqa: F401  (the import proves the install)
        emit({"event": "ready"})
        return
    if len(args) == 5 and args[0] == "data":
        asyncio.run(run("data", args[1], args[2], args[3], args[4].split(",")))
    elif len(args) == 4 and args[0] == "trading":
        asyncio.run(run("trading", args[1], args[2], args[3], []))
    else:
        fail(f"usage: client.py setup | data URL KEY SECRET SYMBOLS | trading URL KEY SECRET (got {args!r})")


if __name__ == "__main__":
    main()
