//! Tests of reading a step's `k8s` block into the kfp-kubernetes executor config: config maps and secrets.

use serde_json::json;

use crate::codegen::kfp::tests::compile_with;

#[test]
fn config_maps_and_secrets_in_a_step_k8s_block_become_volumes_and_env() {
    let (_, platform) = compile_with(
        r#"
project p { image = "python:3.12" }
secret api { k8s = "api-token", keys = ["TOKEN"] }
step a {
  run     = ["a"]
  secrets = [api]
  k8s {
    spec.volumes = [
      { name = "settings", configMap = { name = "app-settings" } },
      { name = "tls", secret = { secretName = "tls-cert", optional = true } }
    ]
    spec.containers = [{
      name = "main"
      volumeMounts = [{ name = "settings", mountPath = "/etc/app" }, { name = "tls", mountPath = "/etc/tls" }]
      env = [
        { name = "LEVEL", valueFrom = { configMapKeyRef = { name = "app-settings", key = "level" } } },
        { name = "MODE", valueFrom = { configMapKeyRef = { name = "app-settings", key = "mode" } } },
        { name = "REGION", valueFrom = { secretKeyRef = { name = "cloud", key = "region", optional = true } } }
      ]
    }]
  }
}
"#,
        &[],
    );
    let config =
        &platform.expect("a platform spec")["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-a"];
    let name = |n: &str| json!({"runtimeValue": {"constant": n}});
    assert_eq!(
        config["configMapAsVolume"],
        json!([{"configMapName": "app-settings", "configMapNameParameter": name("app-settings"),
                "mountPath": "/etc/app", "optional": false}])
    );
    assert_eq!(
        config["secretAsVolume"],
        json!([{"mountPath": "/etc/tls", "optional": true, "secretName": "tls-cert",
                "secretNameParameter": name("tls-cert")}])
    );
    assert_eq!(
        config["configMapAsEnv"],
        json!([{"configMapName": "app-settings", "configMapNameParameter": name("app-settings"),
                "keyToEnv": [{"configMapKey": "level", "envVar": "LEVEL"}, {"configMapKey": "mode", "envVar": "MODE"}],
                "optional": false}])
    );
    let secrets = config["secretAsEnv"].as_array().expect("secretAsEnv");
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert_eq!(
        secrets[1],
        json!({"keyToEnv": [{"envVar": "REGION", "secretKey": "region"}], "optional": true, "secretName": "cloud",
               "secretNameParameter": name("cloud")})
    );
}
