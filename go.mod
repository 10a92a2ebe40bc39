module github.com/pqbridge/pqbridge

go 1.26

require github.com/consensys/gnark-crypto v0.21.0 // indirect
