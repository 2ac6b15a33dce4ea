"""``/api/blocks``: the library with JSON Schemas, and running one block."""

from __future__ import annotations

from fastapi.testclient import TestClient

from domain.blocks.registry import all_blocks
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import CALCULATOR

STEP_THROUGH = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
PURE_IDS = {block.id for block in all_blocks()}


def test_every_block_is_listed_with_json_schemas(client: TestClient, auth: AuthHeaders) -> None:
    blocks = client.get("/api/blocks", headers=auth()).json()
    pure = [b for b in blocks if b["categories"] and b["id"] in PURE_IDS]
    assert len(pure) == 39  # the pure library; network and sub-agent blocks come on top
    for block in blocks:
        assert set(block) >= {
            "id",
            "name",
            "description",
            "categories",
            "inputSchema",
            "outputSchema",
            "staticOutput",
            "uiType",
        }
        assert block["inputSchema"]["type"] == "object"
        assert isinstance(block["inputSchema"]["properties"], dict)
        assert "$ref" not in str(block["inputSchema"]) and "$defs" not in str(block["inputSchema"])
    calc = next(b for b in blocks if b["id"] == CALCULATOR)
    assert calc["name"] == "CalculatorBlock"
    assert calc["uiType"] == "Standard" and calc["staticOutput"] is False
    assert calc["categories"] == [{"category": "LOGIC", "description": calc["categories"][0]["description"]}]
    assert set(calc["inputSchema"]["required"]) == {"operation", "a", "b"}
    assert calc["inputSchema"]["properties"]["operation"]["enum"] == [
        "Add",
        "Subtract",
        "Multiply",
        "Divide",
        "Power",
    ]
    assert set(calc["outputSchema"]["properties"]) == {"result", "error"}


def test_running_one_block_returns_every_output_per_pin(client: TestClient, auth: AuthHeaders) -> None:
    response = client.post(f"/api/blocks/{STEP_THROUGH}/execute", json={"items": ["a", "b", "c"]}, headers=auth())
    assert response.status_code == 200
    assert response.json() == {"item": ["a", "b", "c"], "key": [0, 1, 2]}


def test_division_by_zero_gives_infinity_in_valid_json(client: TestClient, auth: AuthHeaders) -> None:
    response = client.post(
        f"/api/blocks/{CALCULATOR}/execute", json={"operation": "Divide", "a": 1, "b": 0}, headers=auth()
    )
    assert response.status_code == 200
    assert response.json() == {"result": ["Infinity"]}


def test_bad_block_input_is_a_400_with_the_reason(client: TestClient, auth: AuthHeaders) -> None:
    response = client.post(f"/api/blocks/{CALCULATOR}/execute", json={"operation": "Add", "a": 1}, headers=auth())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "block_input_invalid"
    assert body["detail"].startswith("Unable to execute block with invalid input data")
    assert "b" in body["detail"]


def test_unknown_block_is_404(client: TestClient, auth: AuthHeaders) -> None:
    response = client.post("/api/blocks/nope/execute", json={}, headers=auth())
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_blocks_need_a_token(client: TestClient) -> None:
    assert client.get("/api/blocks").status_code == 401


def test_every_block_says_whether_it_is_pure(client: TestClient, auth: AuthHeaders) -> None:
    blocks = {b["name"]: b for b in client.get("/api/blocks", headers=auth()).json()}
    assert all(isinstance(block["pure"], bool) for block in blocks.values())
    # the library blocks (time included: see Block.pure) run ahead of the commit
    assert {name for name, b in blocks.items() if b["id"] in PURE_IDS and not b["pure"]} == set()
    assert blocks["GetCurrentTimeBlock"]["pure"] is True
    # anything with an effect outside the run waits for the commit before it starts
    outside = {"SendWebRequestBlock", "AgentExecutorBlock", "AITextGeneratorBlock", "AIConversationBlock"}
    assert {name for name in outside if blocks[name]["pure"]} == set()
