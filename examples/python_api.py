"""Drive a persistent stream from any async iterator of text, observe it, read it back: no GraphQL involved."""

import asyncio

from persistream.engine import StreamEngine

SENTENCE = "Persistent streams survive reloads, crashes and slow clients."


async def words():
    for word in SENTENCE.split():
        yield word + " "
        await asyncio.sleep(0.01)


async def main():
    async with StreamEngine.from_urls("sqlite+aiosqlite:///example.db", flush_ms=100) as engine:
        stream_id = await engine.create_stream()

        # The driver: claims the stream and sees every token as it is produced.
        async for event in engine.drive(stream_id, words):
            print(event.delta, end="", flush=True)
        print()

        # What is stored: the same text, and a final status.
        body = await engine.body(stream_id)
        print(body.status.value, body.offset, "code points stored")

        # A late observer gets the stored text and the final status in one event.
        async for event in engine.observe(stream_id, from_offset=11):
            print(event.status.value, repr(event.delta))


asyncio.run(main())
