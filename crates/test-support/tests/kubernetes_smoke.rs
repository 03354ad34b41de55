//! Smoke test of the Kubernetes peer: a ConfigMap round trip through kube-rs on a real
//! kube-apiserver backed by etcd.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use keyward_test_support::Kubernetes;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::test]
async fn configmap_round_trip_through_kube_rs() {
    let cluster = Kubernetes::start()
        .await
        .expect("start etcd + kube-apiserver");
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig_path()).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = kube::Client::try_from(config).expect("kube client");

    let version = client.apiserver_version().await.expect("server version");
    assert_eq!(format!("{}.{}", version.major, version.minor), "1.37");

    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let wanted = ConfigMap {
        metadata: ObjectMeta {
            name: Some("keyward-smoke".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "greeting".to_owned(),
            "hello".to_owned(),
        )])),
        ..ConfigMap::default()
    };
    configmaps
        .create(&PostParams::default(), &wanted)
        .await
        .expect("create configmap");
    let read = configmaps
        .get("keyward-smoke")
        .await
        .expect("get configmap");
    assert_eq!(read.data, wanted.data);
    assert!(read.metadata.uid.is_some(), "the apiserver assigned no uid");
}
