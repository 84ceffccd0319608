"""Pure parts of the Data Backbone registry: chain expansion against a brute-force reference over
random chain graphs, cycle refusal, certification overlap, --where parsing, footprints and the
replication plan's invariants."""

import random

import numpy as np
import pytest

from qserv.errors import ConflictError, NotFoundError, UserError
from qserv.payloads.backbone import collections as chains
from qserv.payloads.backbone import rules
from qserv.payloads.backbone.model import data_id_key, dataset_id, lookup_key, normalize_data_id
from qserv.payloads.backbone.sky import footprint, separation_deg
from qserv.payloads.backbone.where import full_data_ids, where_condition


def random_graph(rng, leaves=6, chained=6):
    """Random acyclic chains: chain i only has children among leaves and chains < i."""
    graph = {f"run{i}": ("run", []) for i in range(leaves)}
    for i in range(chained):
        pool = [f"run{j}" for j in range(leaves)] + [f"chain{j}" for j in range(i)]
        graph[f"chain{i}"] = ("chained", rng.sample(pool, rng.randint(1, 4)))
    return graph


def reference_path(graph, names):
    """Depth-first expansion written the obvious way, duplicates dropped after the fact."""
    def expand(name):
        kind, children = graph[name]
        return [name] if kind != "chained" else [leaf for child in children for leaf in expand(child)]
    out = []
    for leaf in [leaf for name in names for leaf in expand(name)]:
        if leaf not in out:
            out.append(leaf)
    return out


def test_flatten_matches_the_reference_over_random_chains():
    rng = random.Random(7)
    for _ in range(300):
        graph = random_graph(rng)
        names = rng.sample(sorted(graph), rng.randint(1, 3))
        assert chains.flatten(graph, names) == reference_path(graph, names)


def test_a_chain_making_a_cycle_is_refused_and_unknown_children_too():
    graph = {"a": ("run", []), "c1": ("chained", ["a"]), "c2": ("chained", ["c1"])}
    with pytest.raises(UserError, match="cycle"):
        chains.check_chain(graph, "c1", ["a", "c2"])
    with pytest.raises(UserError, match="cycle"):
        chains.check_chain(graph, "c3", ["c3"])
    with pytest.raises(NotFoundError):
        chains.check_chain(graph, "c3", ["nope"])
    chains.check_chain(graph, "c3", ["c2", "c1"])  # a diamond is not a cycle


def test_certification_overlap_against_brute_force():
    rng = random.Random(3)
    for _ in range(300):
        ranges = []
        for _ in range(rng.randint(1, 5)):
            begin = rng.choice([None, rng.randint(0, 20)])
            end = rng.choice([None, (begin or 0) + rng.randint(1, 10)])
            ranges.append((begin, end))
        grid = np.arange(-1, 40, 0.5)

        def covers(begin, end):
            return {t for t in grid if chains.in_range(begin, end, t)}
        clash = any(covers(*ranges[i]) & covers(*ranges[j]) for i in range(len(ranges)) for j in range(i))
        new = [(("bias", "{}"), begin, end) for begin, end in ranges]
        if clash:
            with pytest.raises(ConflictError):
                chains.check_certifications([], new)
        else:
            chains.check_certifications([], new)


def test_data_ids_and_ids():
    dims = ["instrument", "visit", "detector"]
    a = normalize_data_id({"instrument": "X", "visit": "12", "detector": 3}, dims, "calexp")
    assert a == {"instrument": "X", "visit": 12, "detector": 3}
    assert dataset_id("calexp", a, "r") == dataset_id("calexp", dict(reversed(a.items())), "r")
    assert dataset_id("calexp", a, "r") != dataset_id("calexp", a, "r2")
    assert data_id_key(a) == '{"detector":3,"instrument":"X","visit":12}'
    with pytest.raises(UserError, match="misses dimension"):
        normalize_data_id({"instrument": "X", "visit": 1}, dims, "calexp")
    with pytest.raises(UserError, match="not dimensions of"):
        normalize_data_id({"instrument": "X", "visit": 1, "detector": 1, "tract": 2}, dims, "calexp")
    with pytest.raises(UserError, match="not an integer"):
        normalize_data_id({"instrument": "X", "visit": 1.5, "detector": 1}, dims, "calexp")


@pytest.mark.parametrize("text, fragment", [
    ("visit = 1; DROP TABLE x", "not allowed"), ("nope = 1", "unknown dimension"),
    ("visit = 'a'", "integer dimension"), ("band = 1", "quote its value"),
    ("visit = detector", "not a value"), ("tract = 1", "not a dimension of this dataset type"),
    ("visit = (SELECT 1)", "not a value"), ("visit =", "--where")])
def test_bad_where_expressions_are_refused(text, fragment):
    with pytest.raises(UserError, match=fragment):
        where_condition(text, ["instrument", "visit", "detector", "band"])


def test_where_is_rewritten_from_the_parse_tree():
    assert where_condition("visit = 12 AND detector IN (1, -2)") == '("visit" = 12 AND "detector" IN (1, -2))'
    assert where_condition("band = 'it''s'") == "\"band\" = 'it''s'"


def test_polygon_footprint_contains_its_vertices():
    rng = np.random.default_rng(5)
    for _ in range(50):
        ra0, dec0 = rng.uniform(0, 360), rng.uniform(-85, 85)
        vertices = [(ra0 + rng.uniform(-1, 1), dec0 + rng.uniform(-1, 1)) for _ in range(4)]
        ra, dec, radius, text = footprint({"s_region": [v for pair in vertices for v in pair]})
        assert text.startswith("POLYGON ICRS")
        far = max(separation_deg(ra, dec, r, d) for r, d in vertices)
        assert radius == pytest.approx(far) and radius < 3
    with pytest.raises(UserError):
        footprint({"s_region": "CIRCLE 1 2 3"})


def test_replication_plan_invariants():
    rng = random.Random(11)
    sites = ["a", "b", "c", "d"]
    for _ in range(200):
        datasets = [{"id": f"d{i}", "dataset_type": rng.choice(["raw", "calexp"]), "run": "r"} for i in range(5)]
        replicas = {d["id"]: {s: rng.choice(["ok", "ok", "corrupt"]) for s in rng.sample(sites, rng.randint(0, 4))}
                    for d in datasets}
        rule_list = [{"dataset_type_pattern": "raw", "collection_pattern": "*", "copies": rng.randint(1, 3),
                      "site_pattern": rng.choice(["*", "[ab]", "c"])}]
        planned = rules.plan(rule_list, datasets, replicas, sites)
        for d in datasets:
            good = {s for s, st in replicas[d["id"]].items() if st == "ok"}
            mine = [p for p in planned if p["dataset_id"] == d["id"]]
            if d["dataset_type"] != "raw" or not good:
                assert not mine
                continue
            after = (good | {p["site"] for p in mine if p["action"] == "transfer"}) - \
                {p["site"] for p in mine if p["action"] == "delete"}
            rule = rule_list[0]
            matching = {s for s in sites if rules.fnmatchcase(s, rule["site_pattern"])}
            assert after  # never every copy deleted
            assert len(after & matching) == min(rule["copies"], len(matching))
            assert all(p["source"] in good for p in mine if p["action"] == "transfer")


def test_full_data_ids_pin_every_dimension_or_give_none():
    dims = ["instrument", "visit", "detector"]
    got = full_data_ids("instrument = 'X' AND visit IN (1, 2) AND (detector = 3) AND visit > 1", dims)
    assert sorted(map(data_id_key, got)) == sorted(data_id_key({"instrument": "X", "visit": v, "detector": 3})
                                                   for v in (1, 2))
    assert full_data_ids("instrument = 'X' AND visit IN (1, 2) AND visit = 2 AND detector = -3", dims) == [
        {"instrument": "X", "visit": 2, "detector": -3}]
    assert full_data_ids("instrument = 'X' AND visit = 1 AND visit = 2 AND detector = 3", dims) == []
    for partial in ("visit = 1 AND detector = 3", "instrument = 'X' AND visit = 1 OR detector = 3",
                    "instrument = 'X' AND visit = 1 AND detector > 3", None, " "):
        assert full_data_ids(partial, dims) is None
    assert full_data_ids("instrument = 'X' AND visit IN (1, 2) AND detector IN (1, 2)", dims, limit=3) is None
    assert lookup_key("calexp", data_id_key(got[0])) != lookup_key("bias", data_id_key(got[0]))
