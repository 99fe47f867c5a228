#!/usr/bin/env python3
"""alpaca-py against tickwire's loopback exchange.

Installs alpaca-py 0.44 into a virtualenv (from PyPI), points alpaca-py's own
StockDataStream and TradingStream at a loopback server with `url_override`,
and checks that parsed quotes and trade updates arrive; then lists the
account's orders over REST with alpaca-py's TradingClient (`GET /v2/orders`
on the same port) and checks every streamed order is there, parsed.

`cargo test --workspace` runs it (transport-mock/tests/alpaca_py.rs): that
test serves the exchange in-process and passes its URL with `--url`. Alone,
the script starts the server itself
(`cargo run -p tickwire-mock --example loopback -- --port 0`):

    python3 transport-mock/tests/alpaca_py/check.py
    python3 transport-mock/tests/alpaca_py/check.py --url ws://127.0.0.1:PORT

With `--url`, the server must accept the key pair PKTICKWIRE /
tickwire-secret and place orders on its trading stream (the loopback
example's defaults do).

Environment: ALPACA_PY_VENV (virtualenv directory, default
<repo>/target/alpaca-py-venv), CHECK_TIMEOUT_S (default 60).
Exit status 0 on success; non-zero with a message on stderr otherwise,
naming what to install when Python's venv, pip or alpaca-py is missing.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "python"))
from script_support import collect_alpaca_errors, ensure_venv, failer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VENV = os.environ.get("ALPACA_PY_VENV", os.path.join(REPO, "target", "alpaca-py-venv"))
KEY, SECRET = "PKTICKWIRE", "tickwire-secret"
QUOTES_WANTED, UPDATES_WANTED = 5, 3
fail = failer("alpaca-py check")


def server_url_argument():
    """The URL given with `--url`, or None."""
    args = sys.argv[1:]
    if not args:
        return None
    if len(args) == 2 and args[0] == "--url" and args[1].startswith("ws://"):
        return args[1].rstrip("/")
    fail(f"usage: check.py [--url ws://HOST:PORT] (got {' '.join(args)!r})")


def start_server():
    """Starts the loopback example; returns (process, base URL)."""
    command = [
        "cargo", "run", "--quiet", "-p", "tickwire-mock", "--example", "loopback", "--",
        "--port", "0", "--seed", "7", "--key", KEY, "--secret", SECRET,
    ]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("ws://"):
        server.kill()
        fail(f"the loopback server did not print its URL (got {line!r}; exit {server.poll()})")
    return server, line


async def run_clients(base, timeout_s):
    import asyncio
    import datetime
    import uuid

    from alpaca.data.live import StockDataStream
    from alpaca.data.models import Quote
    from alpaca.trading.models import TradeUpdate
    from alpaca.trading.stream import TradingStream

    errors = collect_alpaca_errors()
    quotes, updates = [], []
    done = asyncio.Event()

    def check_done():
        if len(quotes) >= QUOTES_WANTED and len(updates) >= UPDATES_WANTED:
            done.set()

    async def on_quote(quote):
        quotes.append(quote)
        check_done()

    async def on_update(update):
        updates.append(update)
        check_done()

    data = StockDataStream(KEY, SECRET, url_override=f"{base}/v2/iex")
    data.subscribe_quotes(on_quote, "AAPL", "MSFT")
    trading = TradingStream(KEY, SECRET, paper=True, url_override=f"{base}/stream")
    trading.subscribe_trade_updates(on_update)

    tasks = [asyncio.create_task(data._run_forever()), asyncio.create_task(trading._run_forever())]
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    except asyncio.TimeoutError:
        pass
    finally:
        await data.stop_ws()
        await trading.stop_ws()
        for task in tasks:
            try:
                await asyncio.wait_for(task, 10)
            except (asyncio.TimeoutError, Exception):
                task.cancel()

    if errors:
        fail("alpaca-py logged errors: " + " | ".join(errors[:5]))
    if len(quotes) < QUOTES_WANTED:
        fail(f"only {len(quotes)} quotes arrived within {timeout_s}s (wanted {QUOTES_WANTED})")
    if len(updates) < UPDATES_WANTED:
        fail(f"only {len(updates)} trade updates arrived within {timeout_s}s (wanted {UPDATES_WANTED})")
    for q in quotes:
        if not isinstance(q, Quote) or q.symbol not in ("AAPL", "MSFT"):
            fail(f"not a parsed quote: {q!r}")
        if not isinstance(q.timestamp, datetime.datetime) or not q.bid_price < q.ask_price:
            fail(f"implausible quote: {q!r}")
    for u in updates:
        if not isinstance(u, TradeUpdate) or not isinstance(u.order.id, uuid.UUID):
            fail(f"not a parsed trade update: {u!r}")
    listed = check_rest_orders(base, updates)
    events = sorted({str(getattr(u.event, "value", u.event)) for u in updates})
    print(f"alpaca-py check passed: {len(quotes)} quotes ({quotes[0].symbol} bid {quotes[0].bid_price} "
          f"ask {quotes[0].ask_price}), {len(updates)} trade updates (events: {', '.join(events)}), "
          f"{listed} orders listed over REST")


def check_rest_orders(base, updates):
    """Lists the orders with TradingClient; each streamed order must be there,
    parsed, no older than its last update. Returns how many were listed."""
    from alpaca.common.enums import Sort
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import QueryOrderStatus
    from alpaca.trading.models import Order
    from alpaca.trading.requests import GetOrdersRequest

    client = TradingClient(KEY, SECRET, paper=True, url_override=base.replace("ws://", "http://", 1))
    request = GetOrdersRequest(status=QueryOrderStatus.ALL, direction=Sort.ASC, limit=500)
    try:
        orders = client.get_orders(filter=request)
    except APIError as error:
        fail(f"GET /v2/orders failed: {error}")
    if not all(isinstance(o, Order) for o in orders):
        fail(f"not parsed orders: {orders[:3]!r}")
    listed = {o.id: o for o in orders}
    for u in updates:
        order = listed.get(u.order.id)
        if order is None:
            fail(f"streamed order {u.order.id} is not listed over REST ({len(orders)} listed)")
        if order.updated_at < u.order.updated_at:
            fail(f"order {u.order.id} is listed older than its streamed update")
    submitted = [o.submitted_at for o in orders]
    if submitted != sorted(submitted):
        fail("the REST list is not in submission order (direction=asc)")
    try:
        TradingClient(KEY, "wrong", paper=True, url_override=base.replace("ws://", "http://", 1)).get_orders()
        fail("GET /v2/orders with a wrong secret succeeded")
    except APIError as error:
        if error.status_code != 401:
            fail(f"a wrong secret gave {error.status_code}, not 401")
    return len(orders)


def main():
    ensure_venv(VENV, "alpaca-py", "0.44.", fail)
    import asyncio
    import signal

    timeout_s = float(os.environ.get("CHECK_TIMEOUT_S", "60"))
    given = server_url_argument()
    if given is not None:
        asyncio.run(run_clients(given, timeout_s))
        return
    server, base = start_server()
    try:
        asyncio.run(run_clients(base, timeout_s))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
