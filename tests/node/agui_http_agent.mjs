// The official AG-UI client against POST /agui: HttpAgent.run's events checked by the client's own verifyEvents,
// then two turns of HttpAgent.runAgent on one thread (the client's full event pipeline, which builds its messages).
// Usage: node agui_http_agent.mjs URL THREAD_ID RUN_PROMPT PROMPT SECOND_PROMPT; prints JSON.
import { randomUUID } from "node:crypto";
import { HttpAgent, verifyEvents } from "@ag-ui/client";
import { lastValueFrom, toArray } from "rxjs";

const [url, threadId, runPrompt, prompt, secondPrompt] = process.argv.slice(2);

const first = new HttpAgent({ url, threadId: randomUUID() });
const input = {
  threadId: first.threadId,
  runId: randomUUID(),
  messages: [{ id: randomUUID(), role: "user", content: runPrompt }],
  tools: [],
  context: [],
  state: {},
  forwardedProps: {},
};
// verifyEvents throws (the observable errors) on any event out of the protocol's order.
const events = await lastValueFrom(first.run(input).pipe(verifyEvents(false), toArray()));

const agent = new HttpAgent({ url, threadId });
agent.addMessage({ id: randomUUID(), role: "user", content: prompt });
const result = await agent.runAgent();
agent.addMessage({ id: randomUUID(), role: "user", content: secondPrompt });
const second = await agent.runAgent();
process.stdout.write(
  JSON.stringify({ events, messages: agent.messages, newMessages: result.newMessages, second: second.newMessages }),
);
