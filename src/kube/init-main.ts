#!/usr/bin/env node
/**
 * Entry point of the `pilotfish-init` image: `pilotfish iptables` alone. It imports nothing outside
 * this folder but Node's built-ins, so the init image carries no node_modules (a test checks that).
 */
import { iptablesCommand } from './iptables-command.js';

process.exitCode = await iptablesCommand(process.argv.slice(2));
