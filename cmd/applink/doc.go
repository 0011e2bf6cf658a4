// Command applink moves a contact centre's recording data out of NICE Engage
// into NICE CXone, driven by one HCL spec folder per customer.
//
// This package owns the command line: flags, wiring the connectors into an
// engine.Registry, and rendering diagnostics, plans and summaries. All logic
// lives below it; run(args, stdin, stdout, stderr) is the whole program so
// tests call it in-process.
package main
