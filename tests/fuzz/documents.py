"""GraphQL requests generated from the exported schema: queries, mutations and subscriptions (hypothesis-graphql,
valid and with one schema violation), then some of their arguments lifted into declared variables (`$v0: ID!`)
whose values are drawn from every shape: the right type, a wrong one, null, missing, huge, deeply nested, lone
surrogates (which travel as `\\ud800` escapes in the JSON), out-of-range numbers, unknown names.

Ids and share tokens come from `Pools`, which the test fills with both identities' real ids and tokens as it
seeds them, so that many generated requests aim at data that exists, and at the other identity's data. Every
argument of every field (root or nested) is reached through the schema, so a new field or argument is fuzzed
without any change here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes, queries
from hypothesis_graphql import mutations as mutation_documents

from persistream.schema import schema as exported

SCHEMA = graphql.build_schema(exported.as_str())
# hypothesis-graphql makes queries and mutations only; a subscription is a query of a schema whose query type is
# the Subscription type, printed with the operation changed to `subscription`.
SUBSCRIPTION_SCHEMA = graphql.GraphQLSchema(query=SCHEMA.subscription_type, types=list(SCHEMA.type_map.values()))

# JSON text nested past any parser's recursion limit; built as text since json.dumps would overflow too.
DEEP = 5_000


@dataclass
class Pools:
    """Real ids and share tokens of every identity, by owner (append-only: ids of deleted data stay, as stale
    ids)."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, list[str]] = field(default_factory=dict)
    _aims: dict[str, Aim] = field(default_factory=dict)

    def add(self, owner: str, *values: str, token: bool = False) -> None:
        target = (self.tokens if token else self.ids).setdefault(owner, [])
        target.extend(v for v in values if v not in target)

    def aimed(self, sender: str) -> Aim:
        """What requests sent as `sender` aim at: mostly the other identities' data, often its own."""
        if sender not in self._aims:
            self._aims[sender] = Aim(self, sender)
        return self._aims[sender]


@dataclass(eq=False)
class Aim:
    pools: Pools
    sender: str

    def __repr__(self) -> str:
        return f"Aim(sender={self.sender!r})"

    def others(self) -> list[str]:
        return [v for owner, ids in self.pools.ids.items() if owner != self.sender for v in ids]

    def own(self) -> list[str]:
        return self.pools.ids.get(self.sender, [])

    def tokens(self) -> list[str]:
        return [v for tokens in self.pools.tokens.values() for v in tokens]

    @functools.cached_property
    def operations(self) -> st.SearchStrategy[Operation]:
        return operations(self)


def _pick(values: Callable[[], list[str]]) -> st.SearchStrategy[str]:
    # Drawn by index at generation time: the pools grow while the test runs.
    def pick(i: int) -> str:
        current = values()
        return current[i % len(current)] if current else ""

    return st.integers(min_value=0, max_value=1 << 16).map(pick)


def any_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any code point, lone surrogates included."""
    surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, codec=None, categories=["Cs"])
    chars = st.one_of(*[st.characters(codec=None)] * 7, surrogates)
    return st.lists(chars, max_size=max_size).map("".join)


def huge_text() -> st.SearchStrategy[str]:
    """Past the prompt limit, and now and then past the body limit (1 MiB)."""
    return st.sampled_from([17_000, 70_000, 1_100_000]).flatmap(
        lambda n: st.sampled_from(["x", "é", "😀", "\x00", "\ud800"]).map(lambda c: c * n)
    )


def id_values(aim: Aim) -> st.SearchStrategy[str]:
    """Most often a real id of another identity or of the sender, exactly; then near misses and garbage."""
    exact = st.one_of(_pick(aim.others), _pick(aim.others), _pick(aim.others), _pick(aim.own), _pick(aim.own))
    near = _pick(aim.others) | _pick(aim.own)
    return st.one_of(
        *[exact] * 8,
        near.map(str.upper),
        near.map(lambda v: v.replace("-", "")),
        near.map(lambda v: v + " "),
        near.map(lambda v: v[:-1]),
        st.uuids().map(str),
        st.sampled_from(["", " ", "0", "null", "not-an-id", "00000000-0000-0000-0000-000000000000"]),
        any_text(),
    )


def string_values(aim: Aim) -> st.SearchStrategy[str]:
    return st.one_of(
        # No ids: a prompt holding another identity's id would be answered with it, rightly.
        _pick(aim.tokens),
        _pick(aim.tokens),
        st.sampled_from(["", " \t\n", "script(none)", "<script>", "' OR 1=1 --", "%s%n", "{{7*7}}"]),
        any_text(),
        huge_text(),
    )


def int_values() -> st.SearchStrategy[int]:
    """Mostly within the contract's ranges (`last` 1 to 1000, offsets from 0), so that requests get past argument
    checks to the data; then the edges and far past them."""
    return st.one_of(
        st.integers(min_value=1, max_value=1000),
        st.integers(min_value=1, max_value=1000),
        st.integers(min_value=0, max_value=60),
        st.integers(min_value=0, max_value=60),
        st.sampled_from([0, 1, -1, 49, 50, 1000, 1001, 2**31 - 1, -(2**31)]),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
        st.integers(min_value=2**31, max_value=2**80),
        st.integers(max_value=-(2**31) - 1, min_value=-(2**80)),
    )


def literal_scalars(aim: Aim) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Inline argument values for hypothesis-graphql, by scalar name."""
    return {
        "ID": id_values(aim).map(nodes.String),
        "String": string_values(aim).map(nodes.String),
        "Int": int_values().map(nodes.Int),
        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat())),
    }


# --- JSON values of variables ---------------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities too: Python's json accepts them, so the server must refuse them itself
    any_text(),
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text(8), inner, max_size=4),
    max_leaves=12,
)


def json_of(type_: graphql.GraphQLInputType, aim: Aim) -> st.SearchStrategy[Any]:
    """A value of the right shape for `type_` (which may still be refused: an unknown id, a huge prompt...)."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return _json_of_named(type_.of_type, aim)
    return st.none() | _json_of_named(type_, aim)


def _json_of_named(type_: graphql.GraphQLInputType, aim: Aim) -> st.SearchStrategy[Any]:
    if isinstance(type_, graphql.GraphQLList):
        inner = json_of(type_.of_type, aim)
        return st.lists(inner, max_size=4) | inner  # a single value coerces to a list of one
    if isinstance(type_, graphql.GraphQLEnumType):
        return st.sampled_from(list(type_.values))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        return st.fixed_dictionaries({name: json_of(f.type, aim) for name, f in type_.fields.items()})
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "ID": id_values(aim) | st.integers(),
        "String": string_values(aim),
        "Int": int_values(),
        "Float": st.floats(),
        "Boolean": st.booleans(),
        "DateTime": st.datetimes().map(lambda d: d.isoformat()),
    }
    assert isinstance(type_, graphql.GraphQLScalarType), type_
    return scalars.get(type_.name, ANY_JSON)


def variable_value(type_: graphql.GraphQLInputType, aim: Aim) -> st.SearchStrategy[Any]:
    """Mostly the right shape, often a wrong one or null."""
    right = json_of(type_, aim)
    return st.one_of(right, right, right, right, ANY_JSON, st.none())


# Declared types other than the argument's own: validation must refuse the mismatch, never run it.
WRONG_DECLARATIONS = ["Int", "Int!", "String", "ID!", "[ID!]!", "Boolean", "Float!", "StreamStatus", "Unknown", "ID"]


def shorten(value: object, limit: int = 2000) -> str:
    """A repr cut to `limit` characters: a falsifying case with a megabyte string stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass
class Operation:
    """One generated GraphQL request (what goes in the JSON body)."""

    kind: str  # query, mutation or subscription
    document: str
    variables: dict[str, Any] = field(default_factory=dict)
    operation_name: str | None = None

    def __repr__(self) -> str:
        return (
            f"Operation(kind={self.kind!r}, document={shorten(self.document)}, variables={shorten(self.variables)}, "
            f"operation_name={self.operation_name!r})"
        )


def _lift_arguments(
    draw: st.DrawFn, document: graphql.DocumentNode, aim: Aim
) -> tuple[graphql.DocumentNode, dict[str, Any]]:
    """Replace some arguments of `document` by variables the operation declares, and draw their values."""
    type_info = graphql.TypeInfo(SCHEMA)
    definitions: list[graphql.VariableDefinitionNode] = []
    values: dict[str, Any] = {}

    class Lift(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None or not draw(st.booleans()):
                return None
            name = f"v{len(definitions)}"
            own_type = [str(argument.type)] * 3 * len(WRONG_DECLARATIONS)
            declared: str = draw(st.sampled_from(own_type + WRONG_DECLARATIONS))
            default = None
            if not declared.endswith("!") and draw(st.sampled_from([False] * 9 + [True])):
                default = node.value  # the generated literal, as the variable's default
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                    type=graphql.parse_type(declared),
                    default_value=default,
                    directives=(),
                )
            )
            presence = draw(st.sampled_from(["value", "value", "value", "missing"]))
            if presence == "value":
                values[name] = draw(variable_value(argument.type, aim))
            return graphql.ArgumentNode(name=node.name, value=graphql.VariableNode(name=graphql.NameNode(value=name)))

    lifted = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Lift()))
    extra = draw(st.sampled_from(["none", "none", "none", "unused definition", "undeclared use", "unknown value"]))
    if extra == "unused definition":
        definitions.append(
            graphql.VariableDefinitionNode(
                variable=graphql.VariableNode(name=graphql.NameNode(value="unused")),
                type=graphql.parse_type("ID!"),
                directives=(),
            )
        )
        values["unused"] = draw(ANY_JSON)
    elif extra == "unknown value":
        values[draw(any_text(12))] = draw(ANY_JSON)
    [operation] = lifted.definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    operation = dataclasses.replace(operation, variable_definitions=tuple(definitions))
    if extra == "undeclared use" and operation.selection_set.selections:
        first = operation.selection_set.selections[0]
        if isinstance(first, graphql.FieldNode):
            ghost = graphql.ArgumentNode(
                name=graphql.NameNode(value="streamId"),
                value=graphql.VariableNode(name=graphql.NameNode(value="ghost")),
            )
            first = dataclasses.replace(first, arguments=(*(first.arguments or ()), ghost))
            rest = operation.selection_set.selections[1:]
            operation = dataclasses.replace(
                operation, selection_set=graphql.SelectionSetNode(selections=(first, *rest))
            )
    return dataclasses.replace(lifted, definitions=(operation,)), values


def _keep(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


def _as(kind: graphql.OperationType) -> Callable[[graphql.DocumentNode], graphql.DocumentNode]:
    def convert(document: graphql.DocumentNode) -> graphql.DocumentNode:
        [operation] = document.definitions
        assert isinstance(operation, graphql.OperationDefinitionNode)
        return dataclasses.replace(document, definitions=(dataclasses.replace(operation, operation=kind),))

    return convert


ROOTS = {
    "query": (SCHEMA, SCHEMA.query_type, _keep),
    "mutation": (SCHEMA, SCHEMA.mutation_type, _keep),
    "subscription": (SUBSCRIPTION_SCHEMA, SCHEMA.subscription_type, _as(graphql.OperationType.SUBSCRIPTION)),
}


def documents(aim: Aim) -> st.SearchStrategy[tuple[str, graphql.DocumentNode]]:
    """(kind, AST) of every root type of the schema: documents selecting one root field (so that one field's
    refusal does not null a sibling's answer, and each field is reached as often as the others), documents
    selecting several, and documents with one schema violation."""
    scalars = literal_scalars(aim)
    strategies: list[st.SearchStrategy[tuple[str, graphql.DocumentNode]]] = []
    for kind, (schema, root, printer) in ROOTS.items():
        assert root is not None
        generate = mutation_documents if kind == "mutation" else queries
        made = [generate(schema, fields=[name], custom_scalars=scalars, print_ast=printer) for name in root.fields]
        made += [generate(schema, custom_scalars=scalars, print_ast=printer, mode=mode) for mode in Mode]
        strategies += [strategy.map(lambda doc, kind=kind: (kind, doc)) for strategy in made]
    return st.one_of(strategies)


@st.composite
def operations(draw: st.DrawFn, aim: Aim) -> Operation:
    """A generated operation, often with variables, sometimes named, sometimes garbled text."""
    kind, document = draw(documents(aim))
    variables: dict[str, Any] = {}
    if draw(st.booleans()):
        document, variables = _lift_arguments(draw, document, aim)
    operation_name = None
    if draw(st.sampled_from([False] * 7 + [True])):
        [definition] = document.definitions
        assert isinstance(definition, graphql.OperationDefinitionNode)
        document = dataclasses.replace(
            document, definitions=(dataclasses.replace(definition, name=graphql.NameNode(value="Fuzzed")),)
        )
        operation_name = draw(st.sampled_from(["Fuzzed", "Fuzzed", "Other", ""]))
    text = graphql.print_ast(document)
    garble = draw(st.sampled_from(["no"] * 18 + ["cut", "text"]))
    if garble == "cut":  # cut short: a document that does not parse
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif garble == "text":  # not GraphQL at all
        text = draw(any_text(200))
    return Operation(kind, text, variables, operation_name)


def body_text(operation: Operation, draw: st.DrawFn) -> str:
    """The request body: ASCII JSON (lone surrogates as escapes, NaN as Python writes it), now and then bent
    out of shape (variables not an object, no query, a JSON document nested past any parser's limit)."""
    shape = draw(st.sampled_from([-1] * 24 + [0, 1, 2, 3, 4, 5]))
    body: dict[str, Any] = {"query": operation.document, "variables": operation.variables}
    if operation.operation_name is not None:
        body["operationName"] = operation.operation_name
    if shape == 0:
        body["variables"] = draw(ANY_JSON)
    elif shape == 1:
        del body["query"]
    elif shape == 2:
        body["query"] = draw(ANY_JSON)
    elif shape == 3:
        body["extensions"] = draw(ANY_JSON)
    elif shape == 4:
        return (
            json.dumps({"query": operation.document})[:-1] + ', "variables": {"v0": ' + "[" * DEEP + "]" * DEEP + "}}"
        )
    elif shape == 5:
        return draw(st.sampled_from(["", "null", "[]", "[1, 2]", '"query"', "{", "{}"]))
    return json.dumps(body)
