"""Split the iris table into train and test CSVs, stratified by species.

Usage: prepare.py SRC TRAIN TEST [--test-fraction F] [--seed S] [--rows-out ROWS_FILE]

Each species is shuffled with a seeded generator and round(F * count) of its
rows go to TEST, so the split is the same on every run and every machine.
ROWS_FILE receives the number of data rows read from SRC, as text.
"""

import argparse
import csv
import os
import random
import sys

LABEL = "species"


def write_csv(path, header, rows):
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rows-out")
    args = parser.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        parser.error(f"--test-fraction must be between 0 and 1 (exclusive), got {args.test_fraction}")

    try:
        with open(args.src, newline="", encoding="utf-8") as handle:
            records = [r for r in csv.reader(handle) if r]
    except OSError as err:
        sys.exit(f"prepare: cannot read {args.src}: {err.strerror}")
    if not records:
        sys.exit(f"prepare: {args.src} is empty")
    header, rows = records[0], records[1:]
    if LABEL not in header:
        sys.exit(f"prepare: {args.src} has no '{LABEL}' column (header: {header})")
    label_at = header.index(LABEL)
    by_class = {}
    for line_no, row in enumerate(rows, start=2):
        if len(row) != len(header):
            sys.exit(f"prepare: {args.src}:{line_no}: {len(row)} fields, header has {len(header)}")
        by_class.setdefault(row[label_at], []).append(row)

    rng = random.Random(args.seed)
    train, test = [], []
    for label in sorted(by_class):
        group = list(by_class[label])
        rng.shuffle(group)
        n_test = round(len(group) * args.test_fraction)
        test.extend(group[:n_test])
        train.extend(group[n_test:])
    # Interleave the classes so a reader that shards by position gets every species.
    rng.shuffle(train)
    rng.shuffle(test)

    write_csv(args.train, header, train)
    write_csv(args.test, header, test)
    if args.rows_out:
        parent = os.path.dirname(args.rows_out)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(args.rows_out, "w", encoding="utf-8") as handle:
            handle.write(f"{len(rows)}\n")
    print(f"rows={len(rows)}")
    print(f"train_rows={len(train)}")
    print(f"test_rows={len(test)}")


if __name__ == "__main__":
    main(sys.argv[1:])
