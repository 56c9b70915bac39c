module edgeacc.example/verify

go 1.19
