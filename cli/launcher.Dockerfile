# The launcher image that compiled pipelines name (LAUNCHER_IMAGE in compiler/src/codegen/manifest.rs,
# ghcr.io/kfl-dev/kfl:0.1): the `kfl` binary, which the pipeline's train/tune/model/serve/monitor tasks run
# as `kfl launch …` and the monitor's CronJob as `kfl launch retrain`.
#
# No image is published. Build it from the RELEASE binary (the debug one is large and slow), on a system whose
# glibc is not newer than this base image's, and push it where your cluster pulls from under that name:
#
#   cargo build --release -p kfl
#   docker build -f cli/launcher.Dockerfile -t ghcr.io/kfl-dev/kfl:0.1 target/release
#
# The build context is target/release, so only the binary is sent.
FROM debian:bookworm-slim
# kube's rustls client reads the system roots for kubeconfig clusters; in a pod it uses the service account's CA.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY kfl /usr/local/bin/kfl
# Nothing is written but the task's output files, which KFP mounts writable.
USER 65532:65532
