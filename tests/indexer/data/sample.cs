using System;
using System.Collections.Generic;

namespace Demo
{
    /// <summary>A thing.</summary>
    public class Thing : IThing
    {
        public const int Max = 3;
        private int count;
        public string Name { get; set; }

        public Thing(int c) { count = c; }

        public int Add(int x)
        {
            return Helper(x) + count;
        }
    }

    public interface IThing { int Add(int x); }

    public struct Vec { public int X; }

    public enum Kind { A, B }
}
