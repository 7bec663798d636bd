module github.com/keepwasm/keep/bench/wasmtime

go 1.26

require github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
