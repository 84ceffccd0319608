"""Replication rules (pure): which copies are missing or surplus, as a plan of transfers and
deletions (the transfers themselves are not done here).

A rule asks that every dataset whose type matches ``dataset_type_pattern`` and whose run matches
``collection_pattern`` (shell patterns) has ``copies`` good copies (state ``ok``) at sites matching
``site_pattern``. For a dataset covered by rules: each rule short of copies gets transfers to
matching sites without a good copy (by site name) from a site holding one; a good copy at a site
no covering rule matches, or beyond the largest number of copies the rules matching that site ask
for, is surplus (deleted, last site names first) unless the dataset would be left with no copy or
a transfer needs it. Datasets no rule covers are left alone."""

from fnmatch import fnmatchcase


def covering(rules, dataset):
    return [r for r in rules if fnmatchcase(dataset["dataset_type"], r["dataset_type_pattern"])
            and fnmatchcase(dataset["run"], r["collection_pattern"])]


def plan(rules, datasets, replicas, sites):
    """[{"action": "transfer"|"delete", "dataset_id", "site", "source"}] for ``datasets`` (dicts
    with id, dataset_type, run); ``replicas``: dataset id -> {site: state}; ``sites``: names."""
    out = []
    for dataset in sorted(datasets, key=lambda d: d["id"]):
        applying = covering(rules, dataset)
        if not applying:
            continue
        good = sorted(site for site, state in replicas.get(dataset["id"], {}).items() if state == "ok")
        if not good:
            continue  # nothing to copy from: reported by verification, not planned
        held, transfers = set(good), []
        for rule in applying:
            matching = [s for s in sorted(sites) if fnmatchcase(s, rule["site_pattern"])]
            have = [s for s in matching if s in held]
            for site in [s for s in matching if s not in held][:max(0, rule["copies"] - len(have))]:
                transfers.append({"action": "transfer", "dataset_id": dataset["id"], "site": site,
                                  "source": good[0]})
                held.add(site)
        out.extend(transfers)
        sources = {t["source"] for t in transfers}
        keep = set()
        for rule in applying:
            matching = [s for s in sorted(held) if fnmatchcase(s, rule["site_pattern"])]
            keep.update(matching[:rule["copies"]])
        surplus = [s for s in reversed(good) if s not in keep and s not in sources]
        if len(surplus) == len(held):
            surplus = surplus[:-1]
        out.extend({"action": "delete", "dataset_id": dataset["id"], "site": s, "source": None}
                   for s in surplus)
    return out
