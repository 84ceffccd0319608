"""Make lsst.dax.apdb's factories know the qserv implementation: ``Apdb.from_config``,
``ApdbReplica.from_config`` and ``ApdbConfig.from_uri`` (type name ``qserv``). The factories
dispatch on exact config types and are imported by name into several modules of lsst.dax.apdb,
so each of those names is wrapped (once)."""

import importlib

FACTORY_USERS = {
    "make_apdb": ("lsst.dax.apdb.factory", "lsst.dax.apdb.apdb"),
    "make_apdb_replica": ("lsst.dax.apdb.factory", "lsst.dax.apdb.apdbReplica"),
    "config_type_for_name": ("lsst.dax.apdb.factory", "lsst.dax.apdb.config"),
}
MARK = "_qserv_wrapped"


def register():
    from qserv.payloads.apdb.rubin.apdb_qserv import ApdbQserv
    from qserv.payloads.apdb.rubin.config import ApdbQservConfig

    def make_apdb(original):
        return lambda config: ApdbQserv(config) if type(config) is ApdbQservConfig else original(config)

    def make_apdb_replica(original):
        return lambda config: (ApdbQserv(config).get_replica() if type(config) is ApdbQservConfig
                               else original(config))

    def config_type_for_name(original):
        return lambda name: ApdbQservConfig if name == ApdbQservConfig._implementation_type else original(name)

    wrappers = {"make_apdb": make_apdb, "make_apdb_replica": make_apdb_replica,
                "config_type_for_name": config_type_for_name}
    for name, modules in FACTORY_USERS.items():
        for module_name in modules:
            module = importlib.import_module(module_name)
            original = getattr(module, name)
            if not getattr(original, MARK, False):
                wrapped = wrappers[name](original)
                setattr(wrapped, MARK, True)
                setattr(module, name, wrapped)
