"""Playbooks, playbook versions, examples, tools and tool versions over gRPC, lossless with the package.

None of the shared real exports has playbooks or tools, so the agent here is a real export
(qatar-airways) with a playbook, an example and a tool added in the export layout
(``playbooks/<name>/<name>.json``, ``playbooks/<name>/examples/<name>.json``,
``tools/<name>/<name>.json``), including a field no reader knows. The held-out style check: restore,
read and change through the API, export, and the export differs in exactly what was changed.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta

from airflow_provider_cx.emulator.testing import (
    create_test_agent,
    package_bytes,
    unique_name,
    wait_for,
    zip_files_as_json,
)

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE
Strategy = cx.ImportStrategy
PLAYBOOK = "playbooks/Order Status/Order Status.json"
EXAMPLE = "playbooks/Order Status/examples/Happy path.json"
TOOL = "tools/Order Lookup/Order Lookup.json"
ADDED = {
    TOOL: {
        "name": "7d0f1b9e-0000-4000-8000-000000000001",
        "displayName": "Order Lookup",
        "description": "Finds an order by its number.",
        "openApiSpec": {"textSchema": "openapi: 3.0.0\ninfo: {title: orders, version: '1'}\npaths: {}\n"},
        "toolType": "CUSTOMIZED_TOOL",
        "futureToolSetting": {"kept": True},
    },
    PLAYBOOK: {
        "name": "7d0f1b9e-0000-4000-8000-000000000002",
        "displayName": "Order Status",
        "goal": "Tell the customer where their order is.",
        "instruction": {
            "steps": [{"text": "Ask for the order number."}, {"text": "Look it up with ${TOOL:Order Lookup}."}]
        },
        "referencedTools": ["Order Lookup"],
        "referencedFlows": ["Default Start Flow"],
        "inputParameterDefinitions": [{"name": "order_number", "typeSchema": {"inlineSchema": {"type": "STRING"}}}],
        "playbookType": "TASK",
    },
    EXAMPLE: {
        "name": "7d0f1b9e-0000-4000-8000-000000000003",
        "displayName": "Happy path",
        "actions": [
            {"userUtterance": {"text": "Where is order 42?"}},
            {"toolUse": {"tool": "Order Lookup", "action": "lookup", "inputActionParameters": {"id": 42}}},
            {"agentUtterance": {"text": "Order 42 ships tomorrow."}},
        ],
        "conversationState": "OUTPUT_STATE_OK",
        "languageCode": "en",
    },
}


def _with_playbooks(base: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        for path, body in ADDED.items():
            target.writestr(path, json.dumps(body, indent=2))
    return out.getvalue()


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def agent(agents, shared_agents):
    (source,) = [p for p in shared_agents if p.name == "qatar-airways"]
    made = create_test_agent(agents, unique_name("playbooks"))
    content = _with_playbooks(package_bytes(source))
    wait_for(agents.restore_agent(request={"name": made.name, "agent_content": content}))
    return made


def _export(agents, agent):
    content = wait_for(agents.export_agent(request={"name": agent.name, "data_format": JSON_PACKAGE})).agent_content
    return zip_files_as_json(content)


def _changed(before, after):
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _by_name(items):
    return {i.display_name: i for i in items}


def test_restore_serves_and_exports_them_unchanged(cx_client, agents, agent):
    files = _export(agents, agent)
    assert {path: files[path] for path in ADDED} == ADDED

    playbooks, tools = cx_client(cx.PlaybooksClient), cx_client(cx.ToolsClient)
    playbook = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]
    tool = _by_name(tools.list_tools(parent=agent.name))["Order Lookup"]
    assert playbook.goal == "Tell the customer where their order is."
    assert [s.text for s in playbook.instruction.steps] == [
        "Ask for the order number.",
        "Look it up with ${TOOL:Order Lookup}.",
    ]
    assert list(playbook.referenced_tools) == [tool.name]
    assert list(playbook.referenced_flows) == [agents.get_agent(name=agent.name).start_flow]
    assert tool.open_api_spec.text_schema.startswith("openapi: 3.0.0")
    (example,) = cx_client(cx.ExamplesClient).list_examples(parent=playbook.name)
    assert example.display_name == "Happy path"
    assert example.actions[1].tool_use.action == "lookup"
    assert example.conversation_state == cx.OutputState.OUTPUT_STATE_OK

    beta_playbook = cx_client(beta.PlaybooksClient).get_playbook(name=playbook.name)
    assert list(beta_playbook.referenced_tools) == [tool.name]
    assert _export(agents, agent) == files  # reads change nothing


def test_updates_export_exactly_the_change(cx_client, agents, agent):
    playbooks, tools, examples = cx_client(cx.PlaybooksClient), cx_client(cx.ToolsClient), cx_client(cx.ExamplesClient)
    before = _export(agents, agent)
    playbook = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]

    playbooks.update_playbook(
        playbook=cx.Playbook(name=playbook.name, goal="Say where the order is."), update_mask={"paths": ["goal"]}
    )
    after = _export(agents, agent)
    assert _changed(before, after) == {PLAYBOOK}
    assert after[PLAYBOOK] == {**ADDED[PLAYBOOK], "goal": "Say where the order is."}

    tool = tools.get_tool(name=playbook.referenced_tools[0])
    tools.update_tool(
        tool=cx.Tool(name=tool.name, description="Looks orders up."), update_mask={"paths": ["description"]}
    )
    example = next(iter(examples.list_examples(parent=playbook.name)))
    examples.update_example(
        example=cx.Example(name=example.name, description="the usual case"), update_mask={"paths": ["description"]}
    )
    last = _export(agents, agent)
    assert _changed(after, last) == {TOOL, EXAMPLE}
    assert last[TOOL] == {**ADDED[TOOL], "description": "Looks orders up."}
    assert last[EXAMPLE] == {**ADDED[EXAMPLE], "description": "the usual case"}

    # Whole-resource updates with what Get returned change nothing.
    playbooks.update_playbook(playbook=playbooks.get_playbook(name=playbook.name))
    tools.update_tool(tool=tools.get_tool(name=tool.name))
    examples.update_example(example=examples.get_example(name=example.name))
    assert _export(agents, agent) == last


def test_renaming_a_tool_rewrites_the_playbooks_naming_it(cx_client, agents, agent):
    tools, playbooks = cx_client(cx.ToolsClient), cx_client(cx.PlaybooksClient)
    tool = _by_name(tools.list_tools(parent=agent.name))["Order Lookup"]
    tools.update_tool(tool=cx.Tool(name=tool.name, display_name="Orders"), update_mask={"paths": ["display_name"]})
    files = _export(agents, agent)
    assert files[PLAYBOOK]["referencedTools"] == ["Orders"]
    assert files[EXAMPLE]["actions"][1]["toolUse"]["tool"] == "Orders"
    assert files["tools/Orders/Orders.json"]["displayName"] == "Orders"
    playbook = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]
    assert list(playbook.referenced_tools) == [tool.name]

    with pytest.raises(exceptions.FailedPrecondition, match="Order Status"):
        tools.delete_tool(name=tool.name)
    tools.delete_tool(request={"name": tool.name, "force": True})
    assert _export(agents, agent)[PLAYBOOK]["referencedTools"] == []


def test_playbook_crud_and_examples(cx_client, agents, agent):
    playbooks, examples = cx_client(cx.PlaybooksClient), cx_client(cx.ExamplesClient)
    made = playbooks.create_playbook(
        parent=agent.name,
        playbook=cx.Playbook(
            display_name="Refunds",
            goal="Handle refunds.",
            instruction=cx.Playbook.Instruction(steps=[cx.Playbook.Step(text="Ask why.")]),
        ),
    )
    with pytest.raises(exceptions.AlreadyExists, match="Refunds"):
        playbooks.create_playbook(parent=agent.name, playbook=cx.Playbook(display_name="Refunds", goal="x"))
    example = examples.create_example(
        parent=made.name,
        example=cx.Example(
            display_name="Broken item",
            actions=[cx.Action(user_utterance=cx.UserUtterance(text="It arrived broken"))],
            conversation_state=cx.OutputState.OUTPUT_STATE_OK,
        ),
    )
    files = _export(agents, agent)
    assert files["playbooks/Refunds/Refunds.json"]["goal"] == "Handle refunds."
    stored = files["playbooks/Refunds/examples/Broken item.json"]
    assert stored["actions"] == [{"userUtterance": {"text": "It arrived broken"}}]
    assert stored["languageCode"] == "en"
    assert examples.get_example(name=example.name).display_name == "Broken item"

    examples.delete_example(name=example.name)
    with pytest.raises(exceptions.NotFound):
        examples.get_example(name=example.name)
    playbooks.delete_playbook(name=made.name)
    assert "Refunds" not in _by_name(playbooks.list_playbooks(parent=agent.name))
    with pytest.raises(exceptions.InvalidArgument, match="does not exist"):
        playbooks.create_playbook(
            parent=agent.name,
            playbook=cx.Playbook(display_name="Bad", goal="x", referenced_tools=[f"{agent.name}/tools/nope"]),
        )


def test_playbook_and_tool_versions_restore_what_they_saved(cx_client, agents, agent):
    playbooks, tools = cx_client(cx.PlaybooksClient), cx_client(cx.ToolsClient)
    playbook = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]
    saved_files = _export(agents, agent)
    version = playbooks.create_playbook_version(
        parent=playbook.name, playbook_version=cx.PlaybookVersion(description="first")
    )
    assert version.playbook.goal == playbook.goal
    assert [e.display_name for e in version.examples] == ["Happy path"]
    playbooks.update_playbook(playbook=cx.Playbook(name=playbook.name, goal="changed"), update_mask={"paths": ["goal"]})
    assert [v.description for v in playbooks.list_playbook_versions(parent=playbook.name)] == ["first"]
    restored = playbooks.restore_playbook_version(request={"name": version.name}).playbook
    assert restored.goal == playbook.goal
    assert _export(agents, agent)[PLAYBOOK] == saved_files[PLAYBOOK]

    tool = tools.get_tool(name=playbook.referenced_tools[0])
    tool_version = tools.create_tool_version(parent=tool.name, tool_version=cx.ToolVersion(display_name="v1"))
    tools.update_tool(tool=cx.Tool(name=tool.name, description="new"), update_mask={"paths": ["description"]})
    assert tools.get_tool_version(name=tool_version.name).tool.description == ADDED[TOOL]["description"]
    tools.restore_tool_version(request={"name": tool_version.name})
    assert _export(agents, agent)[TOOL] == ADDED[TOOL]
    tools.delete_tool_version(name=tool_version.name)
    with pytest.raises(exceptions.NotFound):
        tools.get_tool_version(name=tool_version.name)


def _import_playbook(playbooks, parent, main=0, tools=0, **source):
    strategy = cx.PlaybookImportStrategy(main_playbook_import_strategy=main, tool_import_strategy=tools)
    request = cx.ImportPlaybookRequest(parent=parent, import_strategy=strategy, **source)
    return wait_for(playbooks.import_playbook(request=request))


def test_export_and_import_a_playbook_with_its_tool(cx_emulator, cx_client, agents, agent):
    playbooks = cx_client(cx.PlaybooksClient)
    playbook = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]
    uri = f"gs://{unique_name('pb')}/order-status.zip"
    exported = wait_for(
        playbooks.export_playbook(
            request={
                "name": playbook.name,
                "playbook_uri": uri,
                "data_format": cx.ExportPlaybookRequest.DataFormat.JSON,
            }
        )
    )
    assert exported.playbook_uri == uri
    files = zip_files_as_json(cx_emulator.backend.gcs.read(uri))
    assert {path: files[path] for path in ADDED} == ADDED  # the playbook, its example and its tool

    target = create_test_agent(agents, unique_name("pb-import"))
    landed = _import_playbook(playbooks, target.name, playbook_uri=uri)
    assert landed.playbook.startswith(target.name + "/playbooks/")
    imported = playbooks.get_playbook(name=landed.playbook)
    (tool,) = cx_client(cx.ToolsClient).list_tools(parent=target.name)
    assert list(imported.referenced_tools) == [tool.name]
    assert [e.display_name for e in cx_client(cx.ExamplesClient).list_examples(parent=landed.playbook)] == [
        "Happy path"
    ]
    assert not landed.conflicting_resources.main_playbook_display_name

    # Again into the same agent: both clash; CREATE_NEW renames both and keeps them linked.
    inline = wait_for(playbooks.export_playbook(request={"name": playbook.name})).playbook_content
    again = _import_playbook(playbooks, target.name, playbook_content=inline)
    assert again.conflicting_resources.main_playbook_display_name == "Order Status"
    assert list(again.conflicting_resources.tool_display_names) == ["Order Lookup"]
    copy = playbooks.get_playbook(name=again.playbook)
    tools = _by_name(cx_client(cx.ToolsClient).list_tools(parent=target.name))
    assert copy.display_name == "Order Status_1"
    assert list(copy.referenced_tools) == [tools["Order Lookup_1"].name]

    # KEEP leaves the agent as it was; THROW_ERROR refuses and changes nothing; MERGE is refused.
    before = _export(agents, target)
    kept = _import_playbook(
        playbooks,
        target.name,
        main=Strategy.IMPORT_STRATEGY_KEEP,
        tools=Strategy.IMPORT_STRATEGY_KEEP,
        playbook_content=inline,
    )
    assert kept.playbook == landed.playbook
    assert _export(agents, target) == before
    with pytest.raises(exceptions.AlreadyExists, match="Order Status"):
        _import_playbook(playbooks, target.name, main=Strategy.IMPORT_STRATEGY_THROW_ERROR, playbook_content=inline)
    with pytest.raises(exceptions.InvalidArgument, match="MERGE"):
        _import_playbook(playbooks, target.name, tools=Strategy.IMPORT_STRATEGY_MERGE, playbook_content=inline)
    assert _export(agents, target) == before
    with pytest.raises(exceptions.InvalidArgument, match="playbook content is neither"):
        playbooks.import_playbook(request={"parent": target.name, "playbook_content": b"junk"})


def test_renaming_a_playbook_rewrites_the_references_to_it(cx_client, agents, agent):
    playbooks = cx_client(cx.PlaybooksClient)
    order = _by_name(playbooks.list_playbooks(parent=agent.name))["Order Status"]
    router = playbooks.create_playbook(
        parent=agent.name,
        playbook=cx.Playbook(display_name="Router", goal="Route.", referenced_playbooks=[order.name]),
    )
    with pytest.raises(exceptions.FailedPrecondition, match="Router"):
        playbooks.delete_playbook(name=order.name)
    playbooks.update_playbook(
        playbook=cx.Playbook(name=order.name, display_name="Where Is My Order"), update_mask={"paths": ["display_name"]}
    )
    files = _export(agents, agent)
    assert files["playbooks/Router/Router.json"]["referencedPlaybooks"] == ["Where Is My Order"]
    assert "playbooks/Where Is My Order/examples/Happy path.json" in files
    assert list(playbooks.get_playbook(name=router.name).referenced_playbooks) == [order.name]
