#!/usr/bin/env bash
# Test on several processes with torchrun, one per GPU (or CPU processes
# with gloo where there is no GPU).
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py arguments...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT set up multi-machine runs.
set -e
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
# What torchrun and mmengine set for several processes anyway (one thread
# each), set here so that neither prints a warning about it per process.
if [ "${NPROC:-1}" -gt 1 ]; then
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    export MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
