#!/usr/bin/env bash
# Train on several processes with torchrun, one per GPU (or CPU processes
# with gloo where there is no GPU).
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py arguments...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT set up multi-machine runs.
set -e
CONFIG=$1
NPROC=$2
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
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
