// A thread is a tree of messages (each names its parent); the app shows one branch of it. A chosen message stands
// for the branch through it that ends at its newest descendant, so switching to a variant shows what followed it;
// no choice means the branch of the newest message. `messages` is every message, oldest first.
import type { Message } from "persistream-client";

function isAncestor(byId: Map<string, Message>, ancestorId: string, id: string): boolean {
  for (let at = byId.get(id); at; at = at.parentId ? byId.get(at.parentId) : undefined) {
    if (at.id === ancestorId) return true;
  }
  return false;
}

export function branchOf(messages: Message[], chosenId: string | null): Message[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const start = chosenId && byId.has(chosenId) ? chosenId : messages.at(-1)?.id;
  if (!start) return [];
  const leaf = [...messages].reverse().find((m) => isAncestor(byId, start, m.id)) ?? byId.get(start);
  const branch: Message[] = [];
  for (let at = leaf; at && branch.length <= messages.length; at = at.parentId ? byId.get(at.parentId) : undefined) {
    branch.push(at);
  }
  return branch.reverse();
}

/** The ids of every message with the same parent as `message`, itself included, oldest first. */
export function variantsOf(messages: Message[], message: Message): string[] {
  return messages.filter((m) => (m.parentId ?? null) === (message.parentId ?? null)).map((m) => m.id);
}
