# The launcher image that compiled pipelines name: the `kfl` binary, which the pipeline's train/tune/model/serve/
# monitor tasks run as `kfl launch …`, the monitor's CronJob as `kfl launch retrain` and the retrain receiver as
# `kfl launch retrain --listen`. `kfl build` names ghcr.io/kfl-dev/kfl:VERSION (VERSION = `kfl --version`,
# compiler/src/codegen/image_reference.rs), or the image of `project.launcher_image` / `--launcher-image`.
#
# No image is published. Build it from the RELEASE binary (the debug one is large and slow), on a system whose
# glibc is not newer than this base image's (bookworm: 2.36), and push it where your cluster pulls from:
#
#   cargo build --release --locked -p kfl
#   docker build -f cli/launcher.Dockerfile -t registry.example.com/ml/kfl:0.1.0 target/release
#   docker push registry.example.com/ml/kfl:0.1.0
#   kfl build FILE.kfl -o out --launcher-image registry.example.com/ml/kfl:0.1.0
#
# The build context is target/release, so only the binary is sent (cli/tests/launcher_dockerfile.rs checks that
# the COPY source is the binary the workspace builds and that ENTRYPOINT runs what COPY installed).
FROM debian:bookworm-slim
# kube's rustls client reads the system roots for kubeconfig clusters; in a pod it uses the service account's CA.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY kfl /usr/local/bin/kfl
# Nothing is written but the task's output files, which KFP mounts writable.
USER 65532:65532
# Pods name `kfl` as their command (found on PATH); `docker run IMAGE launch …` works the same.
ENTRYPOINT ["/usr/local/bin/kfl"]
