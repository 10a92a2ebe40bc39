// Package l1api is what a client of the native L1 needs and nothing of its state machine: the
// transaction envelope, types and payloads with their encode/decode/sign helpers, the state
// records a query returns (Account, Rollup, BatchRecord, DepositEntry, Reserves, ...), block,
// receipt and event types, the batch-data zstd codec, the guardian and config-change message
// signers, the error sentinels (also those that cross the QUIC API by code), and the node's API
// method names and request/reply types. It imports no pebble, no l1/chain, l1/node or l1/abci and
// no CometBFT, so that the wallet, the challenger, settlement and l1client link none of them
// (deps_test.go checks it; docs/l1.md §6, "Client API package").
//
// l1/chain and l1/node keep aliases of every name moved here, so the state machine and the node
// read the same types; new client code imports l1api.
package l1api
