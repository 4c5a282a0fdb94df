"""The tenant partition set follows the control plane: active and paused in, disabled and deleted out."""

from __future__ import annotations

import dagster as dg

from synkro.controlplane import open_controlplane


def test_partitions_follow_tenants(db_env: str) -> None:
    from synkro_dagster.sensors import tenant_partitions_sensor

    cp = open_controlplane(db_env)
    cp.tenants.create("partalpha", "Alpha", timezone="Europe/Moscow")
    cp.tenants.create("partbeta", "Beta", timezone="Asia/Almaty")
    cp.tenants.create("partgamma", "Gamma", timezone="UTC")
    cp.tenants.set_status("partbeta", "paused")
    cp.tenants.set_status("partgamma", "disabled")

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tenant", ["part_gone"])
        result = tenant_partitions_sensor(dg.build_sensor_context(instance=instance))
        added, deleted = set(), set()
        for request in result.dynamic_partitions_requests:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                added |= set(request.partition_keys)
            else:
                deleted |= set(request.partition_keys)
        assert {"partalpha", "partbeta"} <= added
        assert "partgamma" not in added
        assert deleted == {"part_gone"}
