package lab

// Seed is the seed lab/cmd/labseed gives lab/fake: person i of the lab is
// fake.New(Seed).Person(i), on every server and in every emulator.
const Seed uint64 = 20221125
