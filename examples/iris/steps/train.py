"""Train the iris MLP, alone or as one rank of a data-parallel gang.

Usage: train.py --data CSV --out MODEL_DIR [--lr LR] [--hidden H] [--epochs E]
                [--batch-size B] [--validation-fraction V] [--seed S]

A stratified part of --data (V, default 0.2) is held out for validation; the
rest trains a one-hidden-layer MLP with minibatch SGD on standardized features.
Each epoch prints `accuracy=…` (on the validation part) and `loss=…` (mean
training cross-entropy), one `name=value` per line as Katib's StdOut collector
expects. The model is written as MODEL_DIR/model.json.

Distributed like torchrun: with WORLD_SIZE > 1 (or, without torchrun, Kubeflow
Trainer's PET_NNODES x PET_NPROC_PER_NODE), RANK r trains on every
WORLD_SIZE-th training row starting at r, and after every epoch the ranks
average their weights (all-reduce) over TCP, rank 0 serving on
MASTER_ADDR:MASTER_PORT. Every rank starts from the same seeded weights, so
after each average they hold the same model. Only rank 0 prints the metrics
and writes MODEL_DIR; the other ranks log their shard to stderr.
"""

import argparse
import json
import os
import random
import socket
import sys
import time

import mlp

CONNECT_TIMEOUT_S = float(os.environ.get("KFL_RENDEZVOUS_TIMEOUT", "120"))


class GangError(Exception):
    """The rendezvous or an all-reduce failed; the gang cannot continue."""


def send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\n")


def receive(reader, what):
    line = reader.readline()
    if not line:
        raise GangError(f"connection closed while waiting for {what}")
    return json.loads(line)


class Gang:
    """All-reduce by averaging, with rank 0 as the hub (a star, like a parameter server)."""

    def __init__(self, rank, world, addr, port):
        self.rank, self.world = rank, world
        self.peers = []  # rank 0: (socket, reader) per other rank, by rank
        self.hub = None  # ranks > 0: (socket, reader) to rank 0
        if rank == 0:
            self._serve(addr, port)
        else:
            self._connect(addr, port)

    def _serve(self, addr, port):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Loopback stays loopback; any other MASTER_ADDR may be a name for this pod that is not an address
        # of one of its interfaces (a Service), so listen on all of them, as torch's TCPStore does.
        bind_addr = addr if addr in ("127.0.0.1", "localhost") else "0.0.0.0"
        try:
            server.bind((bind_addr, port))
        except OSError as err:
            raise GangError(f"rank 0 cannot listen on {addr}:{port}: {err.strerror}") from None
        server.listen(self.world)
        server.settimeout(CONNECT_TIMEOUT_S)
        by_rank = {}
        try:
            while len(by_rank) < self.world - 1:
                conn, _ = server.accept()
                conn.settimeout(CONNECT_TIMEOUT_S)
                reader = conn.makefile("rb")
                hello = receive(reader, "a rank's hello")
                rank = hello.get("rank") if isinstance(hello, dict) else None
                if not isinstance(rank, int) or not 0 < rank < self.world or rank in by_rank:
                    raise GangError(f"unexpected hello {hello!r} (world size {self.world})")
                if hello.get("world") != self.world:
                    raise GangError(f"rank {rank} says WORLD_SIZE={hello.get('world')}, rank 0 has {self.world}")
                by_rank[rank] = (conn, reader)
        except socket.timeout:
            missing = sorted(set(range(1, self.world)) - set(by_rank))
            raise GangError(f"ranks {missing} did not connect within {CONNECT_TIMEOUT_S:.0f}s") from None
        finally:
            server.close()
        self.peers = [by_rank[r] for r in sorted(by_rank)]

    def _connect(self, addr, port):
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                conn = socket.create_connection((addr, port), timeout=CONNECT_TIMEOUT_S)
                break
            except OSError as err:
                # Rank 0 may simply not be listening yet: retry until the deadline.
                if time.monotonic() > deadline:
                    raise GangError(f"rank {self.rank} cannot reach rank 0 at {addr}:{port}: {err}") from None
                time.sleep(0.05)
        self.hub = (conn, conn.makefile("rb"))
        send(conn, {"rank": self.rank, "world": self.world})

    def average(self, vector, epoch):
        """Element-wise mean of `vector` over all ranks; every rank gets the result."""
        try:
            if self.rank == 0:
                total = list(vector)
                for conn, reader in self.peers:
                    message = receive(reader, f"epoch {epoch} weights")
                    if message.get("epoch") != epoch or len(message.get("v", [])) != len(total):
                        raise GangError(f"rank sent epoch {message.get('epoch')}, expected {epoch}")
                    total = [a + b for a, b in zip(total, message["v"])]
                mean = [v / self.world for v in total]
                for conn, _ in self.peers:
                    send(conn, {"epoch": epoch, "v": mean})
                return mean
            conn, reader = self.hub
            send(conn, {"epoch": epoch, "v": vector})
            message = receive(reader, f"epoch {epoch} average")
            return message["v"]
        except (OSError, ValueError, KeyError) as err:
            raise GangError(f"all-reduce at epoch {epoch} failed: {err}") from None

    def close(self):
        for conn, _ in self.peers + ([self.hub] if self.hub else []):
            conn.close()


def split_validation(labels, fraction, seed):
    """Stratified hold-out: the same rows on every rank, since the seed is shared."""
    rng = random.Random(seed)
    by_class = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    train_idx, val_idx = [], []
    for label in sorted(by_class):
        idx = by_class[label]
        rng.shuffle(idx)
        n_val = round(len(idx) * fraction)
        val_idx.extend(idx[:n_val])
        train_idx.extend(idx[n_val:])
    train_idx.sort()
    val_idx.sort()
    return train_idx, val_idx


def env_int(name, default):
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit(f"train: {name}={value!r} is not an integer")


def gang_from_env():
    """(rank, world size) from torchrun's variables, or from Kubeflow Trainer's PET_* ones without torchrun."""
    if "WORLD_SIZE" in os.environ or "PET_NNODES" not in os.environ:
        world, rank = env_int("WORLD_SIZE", 1), env_int("RANK", 0)
    else:
        per_node = env_int("PET_NPROC_PER_NODE", 1)
        world = env_int("PET_NNODES", 1) * per_node
        rank = env_int("PET_NODE_RANK", 0) * per_node + env_int("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        sys.exit(f"train: RANK={rank} is not within WORLD_SIZE={world}")
    return rank, world


def master_address():
    addr = os.environ.get("MASTER_ADDR") or os.environ.get("PET_MASTER_ADDR") or "127.0.0.1"
    return addr, env_int("MASTER_PORT", env_int("PET_MASTER_PORT", 29500))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.hidden < 1 or args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("--hidden, --epochs and --batch-size must be >= 1 and --lr > 0")
    if not 0.0 < args.validation_fraction < 1.0:
        parser.error("--validation-fraction must be between 0 and 1 (exclusive)")
    rank, world = gang_from_env()

    try:
        features, rows, labels = mlp.read_table(args.data)
    except mlp.TableError as err:
        sys.exit(f"train: {err}")
    classes = sorted(set(labels))
    targets = [classes.index(label) for label in labels]
    train_idx, val_idx = split_validation(labels, args.validation_fraction, args.seed)
    shard = train_idx[rank::world]
    if not shard:
        sys.exit(f"train: rank {rank} of {world} has no training rows ({len(train_idx)} in total)")

    model = mlp.Mlp(features, classes, args.hidden, args.seed)
    # Standardize with statistics of the whole training part so every rank scales alike.
    model.fit_standardization([rows[i] for i in train_idx])
    xs = [model.standardize(row) for row in rows]
    if rank != 0:
        print(f"rank {rank}/{world}: training on {len(shard)} of {len(train_idx)} rows", file=sys.stderr)

    gang = None
    if world > 1:
        addr, port = master_address()
        try:
            gang = Gang(rank, world, addr, port)
        except GangError as err:
            sys.exit(f"train: rank {rank}: {err}")

    rng = random.Random(args.seed * 1000 + rank)
    for epoch in range(1, args.epochs + 1):
        order = list(shard)
        rng.shuffle(order)
        loss_sum = 0.0
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            loss_sum += model.sgd_step([xs[i] for i in batch], [targets[i] for i in batch], args.lr)
        loss = loss_sum / len(order)
        if gang is not None:
            try:
                averaged = gang.average(model.flat_weights() + [loss], epoch)
            except GangError as err:
                sys.exit(f"train: rank {rank}: {err}")
            model.set_flat_weights(averaged[:-1])
            loss = averaged[-1]
        if rank == 0:
            predicted = model.predict([rows[i] for i in val_idx])
            accuracy = sum(p == labels[i] for p, i in zip(predicted, val_idx)) / len(val_idx)
            print(f"accuracy={accuracy:.6f}")
            print(f"loss={loss:.6f}", flush=True)
    if gang is not None:
        gang.close()

    if rank == 0:
        extra = {"params": {"lr": args.lr, "hidden": args.hidden, "epochs": args.epochs,
                            "batch_size": args.batch_size, "seed": args.seed, "world_size": world}}
        mlp.save(model, args.out, extra)
        print(f"wrote {os.path.join(args.out, mlp.MODEL_FILE)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
