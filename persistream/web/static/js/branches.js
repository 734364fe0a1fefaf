// A thread is a tree of messages; the page shows one branch of it. Everything here works on the page's copy of
// every message of the thread (a Map id -> message, in the order they were stored): which branch a chosen message
// stands for, and the variants (siblings: same parent) of each message on it.
//
// A chosen message stands for the branch through it that ends at its newest descendant, so switching to a variant
// shows what followed it too. No choice (null, or an id the thread no longer has) means the newest message's branch.

function lastKey(map) {
  let last = null;
  for (const key of map.keys()) last = key;
  return last;
}

function isAncestor(messages, ancestorId, id) {
  for (let at = messages.get(id); at; at = messages.get(at.parentId)) {
    if (at.id === ancestorId) return true;
  }
  return false;
}

// The newest message whose branch goes through `id` (itself when nothing follows it).
function newestDescendant(messages, id) {
  const ids = [...messages.keys()];
  for (let i = ids.length - 1; i >= 0; i--) {
    if (isAncestor(messages, id, ids[i])) return ids[i];
  }
  return id;
}

// The branch the chosen message stands for, oldest first, as message ids.
export function branchIds(messages, chosenId) {
  const start = chosenId && messages.has(chosenId) ? chosenId : lastKey(messages);
  if (!start) return [];
  const ids = [];
  for (let at = messages.get(newestDescendant(messages, start)); at; at = messages.get(at.parentId)) {
    ids.push(at.id);
    if (ids.length > messages.size) break; // a cycle would be the server's bug; never loop forever on it
  }
  return ids.reverse();
}

// Every message's variants, oldest first: id -> the ids of every message with the same parent, itself included.
export function siblingsOf(messages) {
  const byParent = new Map();
  for (const message of messages.values()) {
    const key = message.parentId ?? "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(message.id);
  }
  const result = new Map();
  for (const ids of byParent.values()) for (const id of ids) result.set(id, ids);
  return result;
}
