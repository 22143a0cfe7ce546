"""The tutorials' asyncio echo server: read what comes, write it back, until EOF."""

import asyncio
import socket
import sys


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(echo, host, port, backlog=1024)
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
