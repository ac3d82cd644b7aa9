package com.example;

import java.util.List;
import static java.lang.Math.max;

/** A sample. */
public class Sample extends Base implements Runnable {
    public static final int LIMIT = 3;
    private String name;

    public Sample(String name) {
        this.name = name;
    }

    /** Runs it. */
    @Override
    public void run() {
        List<String> xs = helper(name);
    }

    interface Callback {
        void call(int x);
    }

    enum Mode { A, B }
}

record Pair(int a, int b) {}
